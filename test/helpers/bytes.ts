/** Writing and reading bytes in assertions. */

export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

/** The bytes as lowercase hex (undefined stays undefined, so a missing value compares as one). */
export function hex<T extends Uint8Array | undefined>(value: T): T extends Uint8Array ? string : undefined {
  type Hex = T extends Uint8Array ? string : undefined;
  return (value === undefined ? undefined : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')) as Hex;
}
