// The `ea_on_events` input (docs/abi.md) as Event objects, or read in place without allocating.
//
//   export function ea_on_events(ptr: i32, len: i32): i32 {
//     const batch = new EventReader(ptr, len);
//     while (batch.next()) { /* batch.partitionPtr, batch.timeMs, batch.payloadPtr ... */ }
//     return batch.ok ? 0 : 1;
//   }

import { utf8String } from "./bytes";

export class Event {
  /** For the aggregator: the region. */
  partition: string = "";
  /** For the aggregator: the device id. */
  source: string = "";
  /** Milliseconds since the Unix epoch (an integer). */
  timeMs: f64 = 0;
  payload: Uint8Array = new Uint8Array(0);
}

/** Reads the events of an ea_on_events input one at a time, in place. */
export class EventReader {
  /** Number of events announced by the input. */
  count: u32 = 0;
  /** Index of the current event (after next()). */
  index: i32 = -1;
  /** False when the input was malformed (next() then returns false). */
  ok: bool = true;

  partitionPtr: usize = 0;
  partitionLen: i32 = 0;
  sourcePtr: usize = 0;
  sourceLen: i32 = 0;
  timeMs: f64 = 0;
  payloadPtr: usize = 0;
  payloadLen: i32 = 0;

  private pos: usize;
  private end: usize;

  constructor(ptr: i32, len: i32) {
    this.pos = <usize>ptr;
    this.end = <usize>ptr + <usize>len;
    if (len < 4) {
      this.ok = false;
    } else {
      this.count = load<u32>(this.pos);
      this.pos += 4;
    }
  }

  /** Moves to the next event; false after the last one or on malformed input (then `ok` is false). */
  next(): bool {
    if (!this.ok || this.index + 1 >= <i32>this.count) {
      if (this.ok && this.pos != this.end) this.ok = false; // trailing bytes
      return false;
    }
    let p = this.pos;
    const end = this.end;
    if (p + 2 > end) return this.bad();
    const pl = <i32>load<u16>(p);
    p += 2;
    if (p + <usize>pl > end) return this.bad();
    this.partitionPtr = p;
    this.partitionLen = pl;
    p += <usize>pl;
    if (p + 2 > end) return this.bad();
    const sl = <i32>load<u16>(p);
    p += 2;
    if (p + <usize>sl > end) return this.bad();
    this.sourcePtr = p;
    this.sourceLen = sl;
    p += <usize>sl;
    if (p + 12 > end) return this.bad();
    this.timeMs = load<f64>(p);
    const n = load<u32>(p, 8);
    p += 12;
    if (<u64>p + <u64>n > <u64>end) return this.bad();
    this.payloadPtr = p;
    this.payloadLen = <i32>n;
    this.pos = p + <usize>n;
    this.index++;
    return true;
  }

  private bad(): bool {
    this.ok = false;
    return false;
  }

  /** The current event as an object. */
  event(): Event {
    const e = new Event();
    e.partition = utf8String(this.partitionPtr, this.partitionLen);
    e.source = utf8String(this.sourcePtr, this.sourceLen);
    e.timeMs = this.timeMs;
    const b = new Uint8Array(this.payloadLen);
    memory.copy(b.dataStart, this.payloadPtr, <usize>this.payloadLen);
    e.payload = b;
    return e;
  }
}

/** All events of an ea_on_events input as objects; null if the input is malformed. */
export function readEvents(ptr: i32, len: i32): Array<Event> | null {
  const r = new EventReader(ptr, len);
  const out = new Array<Event>();
  while (r.next()) out.push(r.event());
  return r.ok ? out : null;
}
