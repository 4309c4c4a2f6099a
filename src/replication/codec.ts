/**
 * Events on the wire, little-endian:
 *
 * - one event (a JetStream message body): `u8 version (1) · u16 partition length · partition · u16 source
 *   length · source · f64 time · payload` (the payload is the rest);
 * - a page of events (anti-entropy): `u8 version (1) · u8 has-next · [f64 next time · u16 length · next
 *   source] · u32 count · count × (u16 partition length · partition · u16 source length · source · f64 time
 *   · u32 payload length · payload)`.
 *
 * Strings are UTF-8. The stream is not in the body: it is in the subject, or in the request.
 */
import type { StoredEvent } from '../runtime/index.js';
import type { EventCursor } from '../store/index.js';

const VERSION = 1;

export class CodecError extends Error {
  override name = 'CodecError';
}

export function encodeEvent(event: StoredEvent): Uint8Array {
  const partition = Buffer.from(event.partition, 'utf8');
  const source = Buffer.from(event.source, 'utf8');
  const out = Buffer.allocUnsafe(1 + 2 + partition.length + 2 + source.length + 8 + event.payload.length);
  let at = out.writeUInt8(VERSION, 0);
  at = out.writeUInt16LE(partition.length, at);
  at += partition.copy(out, at);
  at = out.writeUInt16LE(source.length, at);
  at += source.copy(out, at);
  at = out.writeDoubleLE(event.timeMs, at);
  out.set(event.payload, at);
  return out;
}

export function decodeEvent(bytes: Uint8Array): StoredEvent {
  const reader = new Reader(bytes);
  if (reader.u8() !== VERSION) throw new CodecError('unknown event encoding version');
  const partition = reader.string(reader.u16());
  const source = reader.string(reader.u16());
  const timeMs = reader.f64();
  const payload = reader.bytes(bytes.length - reader.at);
  return checked({ partition, source, timeMs, payload });
}

export interface EventPageBody {
  events: StoredEvent[];
  next: EventCursor | undefined;
}

export function encodeEventPage(page: EventPageBody): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(2);
  head.writeUInt8(VERSION, 0);
  head.writeUInt8(page.next === undefined ? 0 : 1, 1);
  parts.push(head);
  if (page.next !== undefined) {
    const source = Buffer.from(page.next.source, 'utf8');
    const next = Buffer.allocUnsafe(10);
    next.writeDoubleLE(page.next.timeMs, 0);
    next.writeUInt16LE(source.length, 8);
    parts.push(next, source);
  }
  parts.push(encodeEventList(page.events));
  return Buffer.concat(parts);
}

export function decodeEventPage(bytes: Uint8Array): EventPageBody {
  const reader = new Reader(bytes);
  if (reader.u8() !== VERSION) throw new CodecError('unknown page encoding version');
  let next: EventCursor | undefined;
  if (reader.u8() === 1) {
    const timeMs = reader.f64();
    next = { timeMs, source: reader.string(reader.u16()) };
  }
  const events = readEventList(reader);
  return { events, next };
}

/** `u16 stream length · stream · event list`: the body of an `apply` request. */
export function encodeApply(stream: string, events: readonly StoredEvent[]): Uint8Array {
  const name = Buffer.from(stream, 'utf8');
  const head = Buffer.allocUnsafe(3);
  head.writeUInt8(VERSION, 0);
  head.writeUInt16LE(name.length, 1);
  return Buffer.concat([head, name, encodeEventList(events)]);
}

export function decodeApply(bytes: Uint8Array): { stream: string; events: StoredEvent[] } {
  const reader = new Reader(bytes);
  if (reader.u8() !== VERSION) throw new CodecError('unknown apply encoding version');
  const stream = reader.string(reader.u16());
  return { stream, events: readEventList(reader) };
}

function encodeEventList(events: readonly StoredEvent[]): Buffer {
  let size = 4;
  const encoded = events.map((e) => {
    const partition = Buffer.from(e.partition, 'utf8');
    const source = Buffer.from(e.source, 'utf8');
    size += 2 + partition.length + 2 + source.length + 8 + 4 + e.payload.length;
    return { partition, source, e };
  });
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32LE(events.length, 0);
  for (const { partition, source, e } of encoded) {
    at = out.writeUInt16LE(partition.length, at);
    at += partition.copy(out, at);
    at = out.writeUInt16LE(source.length, at);
    at += source.copy(out, at);
    at = out.writeDoubleLE(e.timeMs, at);
    at = out.writeUInt32LE(e.payload.length, at);
    out.set(e.payload, at);
    at += e.payload.length;
  }
  return out;
}

function readEventList(reader: Reader): StoredEvent[] {
  const count = reader.u32();
  const events: StoredEvent[] = [];
  for (let i = 0; i < count; i++) {
    const partition = reader.string(reader.u16());
    const source = reader.string(reader.u16());
    const timeMs = reader.f64();
    const payload = reader.bytes(reader.u32());
    events.push(checked({ partition, source, timeMs, payload }));
  }
  if (reader.at !== reader.length) throw new CodecError('trailing bytes after the events');
  return events;
}

function checked(event: StoredEvent): StoredEvent {
  if (event.partition.length === 0 || event.source.length === 0) throw new CodecError('empty partition or source');
  if (!Number.isSafeInteger(event.timeMs) || event.timeMs < 0) throw new CodecError('time is not an integer in [0, 2^53)');
  return event;
}

class Reader {
  at = 0;
  private readonly buffer: Buffer;
  constructor(bytes: Uint8Array) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.buffer.length;
  }
  private need(n: number): void {
    if (this.at + n > this.buffer.length) throw new CodecError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.at++);
  }
  u16(): number {
    this.need(2);
    const v = this.buffer.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buffer.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buffer.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    // A copy: the message buffer may be reused by the client.
    const v = new Uint8Array(this.buffer.subarray(this.at, this.at + n));
    this.at += n;
    return v;
  }
  string(n: number): string {
    this.need(n);
    const v = this.buffer.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
}
