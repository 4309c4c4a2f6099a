// The region registry, for the cap on regions (config max_regions).
//
// The cap is checked when a reading is validated (ea_on_http), but the aggregates ("t" + region) are written
// later by the fold, which the node defers (--fold-delay-ms): two batches a few milliseconds apart would both
// see a new region's aggregate absent and both count it, and a count kept by the fold would let a burst of
// batches overshoot the cap. So the ea_on_http call that appends a region's first reading registers it, in
// the same transaction as the append (a rolled-back call registers nothing):
//   "r" + region   the region is registered (value: one byte)
//   "#regions"     u32 LE: how many regions are registered
// A region with an aggregate but no registration (readings from other nodes, or data older than the
// registry) is known, not counted; when the count key is absent it starts at the number of aggregates, so
// such data counts once. The fold never refuses: the cap limits what this node's API accepts.

import { ByteBuffer, kv, AbiError } from "../sdk";
import { KIND_TOTAL } from "./keys";

const KIND_REGISTERED: u32 = 0x72; // "r"
// "#regions": sorts before every region-keyed record.
const COUNT_KEY: usize = memory.data<u8>([0x23, 0x72, 0x65, 0x67, 0x69, 0x6f, 0x6e, 0x73]);
const COUNT_KEY_LEN: i32 = 8;
const REGISTERED: usize = memory.data<u8>([1]);
/** Regions remembered as known within one call. */
const KNOWN_SLOTS: i32 = 32;

/** What admit() found. */
export const ADMIT_KNOWN: i32 = 0;
export const ADMIT_NEW: i32 = 1;
export const ADMIT_FULL: i32 = 2;

export class Registry {
  private key: ByteBuffer = new ByteBuffer(80);
  private buf: ByteBuffer = new ByteBuffer(16);
  /** Registered regions, once read (-1: not yet). */
  private count: f64 = -1;
  private countChanged: bool = false;
  // Regions this call found known: a batch usually holds a few regions, interleaved, and a host lookup
  // costs far more than comparing with a few dozen names (a batch of 100 over 10 regions: 10 lookups, not 100).
  private known: Array<ByteBuffer> = [];
  private nextSlot: i32 = 0;

  /** Whether a reading of this region may be appended: ADMIT_* or a negative AbiError code. */
  admit(ptr: usize, len: i32, max: f64): i32 {
    const known = this.known;
    for (let i = 0; i < known.length; i++) {
      const k = unchecked(known[i]);
      if (k.len == len && memory.compare(k.ptr, ptr, <usize>len) == 0) return ADMIT_KNOWN;
    }
    let r = this.exists(KIND_REGISTERED, ptr, len);
    if (r == 0) r = this.exists(KIND_TOTAL, ptr, len);
    if (r < 0) return r;
    if (r == 1) {
      this.remember(ptr, len);
      return ADMIT_KNOWN;
    }
    if (this.count < 0) {
      const c = this.readCount();
      if (c < 0) return <i32>c;
      this.count = c;
    }
    return this.count >= max ? ADMIT_FULL : ADMIT_NEW;
  }

  /** Registers a region admit() found new, once its first reading was appended. 0 or an AbiError code. */
  add(ptr: usize, len: i32): i32 {
    this.setKey(KIND_REGISTERED, ptr, len);
    const r = kv.putRaw(this.key.ptr, this.key.len, REGISTERED, 1);
    if (r < 0) return r;
    this.count++;
    this.countChanged = true;
    this.remember(ptr, len);
    return 0;
  }

  /** Stores the count if add() changed it. 0 or an AbiError code. */
  save(): i32 {
    if (!this.countChanged) return 0;
    const b = this.buf;
    store<u32>(b.ptr, <u32>this.count);
    const r = kv.putRaw(COUNT_KEY, COUNT_KEY_LEN, b.ptr, 4);
    if (r == 0) this.countChanged = false;
    return r;
  }

  private remember(ptr: usize, len: i32): void {
    let slot: ByteBuffer;
    if (this.known.length < KNOWN_SLOTS) {
      slot = new ByteBuffer(64);
      this.known.push(slot);
    } else {
      slot = unchecked(this.known[this.nextSlot]);
      this.nextSlot = (this.nextSlot + 1) % KNOWN_SLOTS;
    }
    slot.reset();
    slot.bytes(ptr, len);
  }

  private setKey(kind: u32, ptr: usize, len: i32): void {
    const k = this.key;
    k.reset();
    k.byte(kind);
    k.bytes(ptr, len);
  }

  /** 1 if the key kind + region exists, 0 if not, or an AbiError code. */
  private exists(kind: u32, ptr: usize, len: i32): i32 {
    this.setKey(kind, ptr, len);
    // Only presence matters: a value larger than the buffer still answers its length.
    const n = kv.getInto(this.key.ptr, this.key.len, this.buf.ptr, 0);
    if (n == AbiError.NOT_FOUND) return 0;
    return n < 0 ? n : 1;
  }

  /** The stored count; when absent, the number of aggregates ("t" keys). Negative: an AbiError code. */
  private readCount(): f64 {
    const b = this.buf;
    const n = kv.getInto(COUNT_KEY, COUNT_KEY_LEN, b.ptr, b.cap);
    if (n == 4) return <f64>load<u32>(b.ptr);
    if (n != AbiError.NOT_FOUND) return n < 0 ? <f64>n : <f64>AbiError.INVALID;
    const prefix = memory.data<u8>([0x74]); // "t"
    const page = new ByteBuffer(16384);
    const after = new ByteBuffer(80);
    let count: f64 = 0;
    while (true) {
      const got = kv.listInto(prefix, 1, after.ptr, after.len, page.ptr, page.cap);
      if (got < 0) return <f64>got;
      if (got == 0) return count;
      let p = page.ptr;
      const end = p + <usize>got;
      while (p + 2 <= end) {
        const klen = <i32>load<u16>(p);
        after.reset();
        after.bytes(p + 2, klen);
        p += 2 + <usize>klen;
        count++;
      }
    }
    return count;
  }
}
