/**
 * The bytes that cross the call boundary (docs/abi.md, "Calling convention"), as src/runtime/envelope.ts
 * writes and reads them, without Node's Buffer (a Worker has none).
 */
import { HTTP_METHOD, PRINCIPAL_KIND } from './abi.js';

const encoder = new TextEncoder();
const U16_MAX = 0xffff;

/**
 * @typedef {{ method: string, path: string, query: string, contentType: string,
 *   principal: { kind: keyof typeof PRINCIPAL_KIND, subject: string }, body: Uint8Array }} GuestHttpRequest
 * @typedef {{ partition: string, source: string, timeMs: number, payload: Uint8Array }} StoredEvent
 * @typedef {{ size: number, write: (memory: ArrayBuffer, ptr: number) => void }} Envelope
 */

function field(text, name) {
  const bytes = encoder.encode(text);
  if (bytes.length > U16_MAX) throw new RangeError(`${name} is longer than ${U16_MAX} bytes`);
  return bytes;
}

/** @param {GuestHttpRequest} req @returns {Envelope} */
export function httpRequestEnvelope(req) {
  const texts = [field(req.path, 'path'), field(req.query, 'query'), field(req.contentType, 'content type'), field(req.principal.subject, 'subject')];
  const size = 4 + texts.reduce((n, t) => n + 2 + t.length, 0) + 4 + req.body.length;
  const write = (memory, ptr) => {
    const out = new Uint8Array(memory, ptr, size);
    const view = new DataView(memory, ptr, size);
    out[0] = 1;
    out[1] = HTTP_METHOD[req.method] ?? 0;
    out[2] = PRINCIPAL_KIND[req.principal.kind];
    out[3] = 0;
    let pos = 4;
    for (const t of texts) {
      view.setUint16(pos, t.length, true);
      out.set(t, pos + 2);
      pos += 2 + t.length;
    }
    view.setUint32(pos, req.body.length, true);
    out.set(req.body, pos + 4);
  };
  return { size, write };
}

/** @param {readonly StoredEvent[]} events @returns {Envelope} */
export function eventsEnvelope(events) {
  const encoded = events.map((e) => ({ partition: encoder.encode(e.partition), source: encoder.encode(e.source), timeMs: e.timeMs, payload: e.payload }));
  let size = 4;
  for (const e of encoded) size += 2 + e.partition.length + 2 + e.source.length + 8 + 4 + e.payload.length;
  const write = (memory, ptr) => {
    const out = new Uint8Array(memory, ptr, size);
    const view = new DataView(memory, ptr, size);
    view.setUint32(0, encoded.length, true);
    let pos = 4;
    for (const e of encoded) {
      for (const t of [e.partition, e.source]) {
        view.setUint16(pos, t.length, true);
        out.set(t, pos + 2);
        pos += 2 + t.length;
      }
      view.setFloat64(pos, e.timeMs, true);
      view.setUint32(pos + 8, e.payload.length, true);
      out.set(e.payload, pos + 12);
      pos += 12 + e.payload.length;
    }
  };
  return { size, write };
}

/**
 * The response frame at `ptr`, its body copied out; a string saying what is wrong when it is malformed
 * (the same checks as decodeResponseFrame in src/runtime/envelope.ts).
 * @param {Uint8Array} memory @param {number} ptr
 * @returns {{ status: number, contentType: string, body: Uint8Array } | string}
 */
export function decodeResponseFrame(memory, ptr) {
  const start = ptr >>> 0;
  if (start + 4 > memory.length) return `response pointer ${start} is outside memory (${memory.length} bytes)`;
  const view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  const length = view.getUint32(start, true);
  const end = start + 4 + length;
  if (end > memory.length) return `response frame of ${length} bytes at ${start} runs past the end of memory`;
  if (length < 4) return `response frame of ${length} bytes is too short`;
  const status = view.getUint16(start + 4, true);
  if (status < 100 || status > 599) return `response status ${status} is not an HTTP status`;
  const ctLength = view.getUint16(start + 6, true);
  if (8 + ctLength > 4 + length) return 'response content type runs past the frame';
  const ctStart = start + 8;
  let contentType = '';
  for (let i = ctStart; i < ctStart + ctLength; i++) {
    const c = memory[i];
    if (c < 0x20 || c > 0x7e) return 'response content type is not printable ASCII';
    contentType += String.fromCharCode(c);
  }
  return { status, contentType, body: memory.slice(ctStart + ctLength, end) };
}
