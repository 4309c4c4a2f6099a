/**
 * The bytes that cross the call boundary (docs/abi.md, "Calling convention"): the HTTP request
 * envelope and the events envelope going in, the response frame coming out.
 */
import { HTTP_METHOD, PRINCIPAL_KIND, type PrincipalKind } from './abi.js';
import type { StoredEvent } from './store.js';

export interface GuestHttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  /** Media type only, lower case, no parameters; '' when absent. */
  contentType: string;
  principal: { kind: PrincipalKind; subject: string };
  body: Uint8Array;
}

export interface GuestHttpResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** A call's input: its size (to allocate in the guest) and a writer that puts it at `ptr` in guest memory. */
export interface Envelope {
  size: number;
  write: (memory: ArrayBuffer, ptr: number) => void;
}

const U16_MAX = 0xffff;

function fieldLength(text: string, field: string): number {
  const n = Buffer.byteLength(text, 'utf8');
  if (n > U16_MAX) throw new RangeError(`${field} is longer than ${U16_MAX} bytes`);
  return n;
}

/**
 * Size of the HTTP request envelope, and a writer that puts it at `ptr` in guest memory. The
 * envelope is written in place, not built and copied: this is on every request's path.
 */
export function httpRequestEnvelope(req: GuestHttpRequest): Envelope {
  const lengths = [
    fieldLength(req.path, 'path'),
    fieldLength(req.query, 'query'),
    fieldLength(req.contentType, 'content type'),
    fieldLength(req.principal.subject, 'subject'),
  ] as const;
  const size = 4 + 8 + lengths[0] + lengths[1] + lengths[2] + lengths[3] + 4 + req.body.length;
  const write = (memory: ArrayBuffer, ptr: number): void => {
    const out = Buffer.from(memory, ptr, size);
    out[0] = 1;
    out[1] = HTTP_METHOD[req.method] ?? 0;
    out[2] = PRINCIPAL_KIND[req.principal.kind];
    out[3] = 0;
    let pos = 4;
    const texts = [req.path, req.query, req.contentType, req.principal.subject];
    for (let i = 0; i < 4; i++) {
      out.writeUInt16LE(lengths[i]!, pos);
      out.write(texts[i]!, pos + 2, 'utf8');
      pos += 2 + lengths[i]!;
    }
    out.writeUInt32LE(req.body.length, pos);
    out.set(req.body, pos + 4);
  };
  return { size, write };
}

/**
 * Size of the events envelope for `ea_on_events`, and a writer that puts it at `ptr` in guest memory. Written
 * in place like the HTTP envelope: a group's events can be tens of kilobytes, and a temporary copy of that
 * size per group is malloc'd memory that lingers until the next garbage collection.
 */
export function eventsEnvelope(events: readonly StoredEvent[]): Envelope {
  let size = 4;
  for (const e of events) size += 2 + Buffer.byteLength(e.partition, 'utf8') + 2 + Buffer.byteLength(e.source, 'utf8') + 8 + 4 + e.payload.length;
  const write = (memory: ArrayBuffer, ptr: number): void => {
    const out = Buffer.from(memory, ptr, size);
    let pos = out.writeUInt32LE(events.length, 0);
    for (const e of events) {
      pos = writeText(out, e.partition, pos);
      pos = writeText(out, e.source, pos);
      pos = out.writeDoubleLE(e.timeMs, pos);
      pos = out.writeUInt32LE(e.payload.length, pos);
      out.set(e.payload, pos);
      pos += e.payload.length;
    }
  };
  return { size, write };
}

/** A u16 length and the UTF-8 bytes of `text` at `pos`; returns the position after them. */
function writeText(out: Buffer, text: string, pos: number): number {
  const n = out.write(text, pos + 2, 'utf8');
  out.writeUInt16LE(n, pos);
  return pos + 2 + n;
}

/**
 * Reads the response frame at `ptr` in `memory`, copying the body out (the memory is reset after
 * the call). Returns a string describing the problem when the frame is malformed.
 */
export function decodeResponseFrame(memory: Uint8Array, ptr: number): GuestHttpResponse | string {
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
  // Content types are ASCII tokens (RFC 9110); anything else is a malformed frame.
  let contentType = '';
  for (let i = ctStart; i < ctStart + ctLength; i++) {
    const c = memory[i]!;
    if (c < 0x20 || c > 0x7e) return 'response content type is not printable ASCII';
    contentType += String.fromCharCode(c);
  }
  return { status, contentType, body: memory.slice(ctStart + ctLength, end) };
}
