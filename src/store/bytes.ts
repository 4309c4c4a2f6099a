/** A Buffer view of `bytes`, without a copy: better-sqlite3 binds only Buffers as blobs. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
