// ea_on_events: folds new events (readings) into the per-region aggregates in kv.
//
// The result is a function of the set of events only (see aggregate.ts), so any order and any batching give
// the same bytes. Within one call the events are sorted by (region, minute) and every affected key is read,
// merged and written once: the minute buckets, the hour buckets and the all-time total of each region.
// Events are processed in chunks of up to CHUNK, which bounds the memory a call needs.

import { EventReader, ByteBuffer, VarintReader, kv, log, metrics, AbiError } from "../sdk";
import { Acc, encodeAcc, encodeMerged, toMicro, sketchKey, readHeader } from "./aggregate";
import {
  validRegion, validDevice, bucketKey, totalKey, KIND_MINUTE, KIND_HOUR, MAX_BUCKET_TIME, MINUTE_MS, HOUR_MS,
} from "./keys";

const CHUNK: i32 = 65536; // points per sort; the point index takes 18 bits of the sort key
const MAX_REGIONS: i32 = 16384; // regions per chunk; the region index takes 14 bits of the sort key
const POINT_SIZE: usize = 32; // f64 temp | i64 micro | f64 time | u32 device ptr | u16 device len | u16 K
// What Folder.read returns instead of a record's length: not ABI codes (a failed read is logged there).
const ABSENT: i32 = -1;
const READ_FAILED: i32 = -2;

export const MIN_TEMP: f64 = -273.15;
export const MAX_TEMP: f64 = 1000;

class Folder {
  cap: i32;
  n: i32 = 0;
  points: usize;
  keys: Uint64Array;
  // Regions of the current chunk: open addressing over their bytes.
  nRegions: i32 = 0;
  regionCap: i32;
  regionPtr: usize;
  regionLen: usize;
  slotMask: u32;
  slots: usize;
  // Accumulators of the current minute, hour and region.
  minuteAcc: Acc = new Acc();
  hourAcc: Acc = new Acc();
  totalAcc: Acc = new Acc();
  key: ByteBuffer = new ByteBuffer(80);
  // The stored records of the current minute, hour and region.
  minuteRead: ByteBuffer = new ByteBuffer(1024);
  hourRead: ByteBuffer = new ByteBuffer(2048);
  totalRead: ByteBuffer = new ByteBuffer(4096);
  out: ByteBuffer = new ByteBuffer(4096);

  constructor(cap: i32) {
    this.cap = cap;
    this.points = heap.alloc(<usize>cap * POINT_SIZE);
    this.keys = new Uint64Array(cap);
    this.regionCap = cap < MAX_REGIONS ? cap : MAX_REGIONS;
    this.regionPtr = heap.alloc(<usize>this.regionCap << 2);
    this.regionLen = heap.alloc(<usize>this.regionCap << 2);
    let slots: u32 = 16;
    while (slots < <u32>this.regionCap * 2) slots <<= 1;
    this.slotMask = slots - 1;
    this.slots = heap.alloc(<usize>slots << 2);
    memory.fill(this.slots, 0, <usize>slots << 2);
  }

  /** The region id of a region (registering it); -1 when the chunk's region table is full. */
  regionId(ptr: usize, len: i32): i32 {
    let h: u32 = 2166136261;
    for (let i = 0; i < len; i++) h = (h ^ <u32>load<u8>(ptr + <usize>i)) * 16777619;
    let s = h & this.slotMask;
    while (true) {
      const slot = this.slots + (<usize>s << 2);
      const v = load<i32>(slot);
      if (v == 0) {
        if (this.nRegions >= this.regionCap) return -1;
        const id = this.nRegions++;
        store<u32>(this.regionPtr + (<usize>id << 2), <u32>ptr);
        store<u32>(this.regionLen + (<usize>id << 2), <u32>len);
        store<i32>(slot, id + 1);
        return id;
      }
      const id = v - 1;
      const p = <usize>load<u32>(this.regionPtr + (<usize>id << 2));
      const l = <i32>load<u32>(this.regionLen + (<usize>id << 2));
      if (l == len && memory.compare(p, ptr, <usize>len) == 0) return id;
      s = (s + 1) & this.slotMask;
    }
  }

  /** Adds a valid reading; false when the chunk is full (flush, then add again). */
  add(regionPtr: usize, regionLen: i32, devPtr: usize, devLen: i32, time: f64, temp: f64): bool {
    if (this.n >= this.cap) return false;
    const rid = this.regionId(regionPtr, regionLen);
    if (rid < 0) return false;
    const idx = this.n++;
    const p = this.points + <usize>idx * POINT_SIZE;
    store<f64>(p, temp);
    store<i64>(p, toMicro(temp), 8);
    store<f64>(p, time, 16);
    store<u32>(p, <u32>devPtr, 24);
    store<u16>(p, <u16>devLen, 28);
    store<u16>(p, <u16>sketchKey(temp), 30);
    const minute = <u64>Math.floor(time / MINUTE_MS);
    unchecked(this.keys[idx] = (<u64>rid << 50) | (minute << 18) | <u64>idx);
    return true;
  }

  /**
   * Folds the chunk into kv. Returns false if a store call failed.
   *
   * Reads are skipped where the stored records prove there is nothing to read: a minute bucket exists only
   * if its hour bucket does, and a bucket only within its parent's [first, last] timestamps (every call
   * writes all three levels atomically). So a backlog of readings for a time range the region has no data in
   * costs one write per bucket and no reads.
   */
  flush(): bool {
    const n = this.n;
    if (n == 0) return true;
    const keys = this.keys.subarray(0, n);
    keys.sort();
    const minute = this.minuteAcc;
    const hour = this.hourAcc;
    const total = this.totalAcc;
    let i = 0;
    while (i < n) {
      const rid = <i32>(unchecked(keys[i]) >> 50);
      const rPtr = <usize>load<u32>(this.regionPtr + (<usize>rid << 2));
      const rLen = <i32>load<u32>(this.regionLen + (<usize>rid << 2));
      totalKey(this.key, rPtr, rLen);
      const totalStored = this.read(this.totalRead);
      if (totalStored == READ_FAILED) return false;
      total.reset();
      while (i < n && <i32>(unchecked(keys[i]) >> 50) == rid) {
        const h = <u32>(((unchecked(keys[i]) >> 18) & 0xffffffff) / 60);
        bucketKey(this.key, KIND_HOUR, h, rPtr, rLen);
        let hourStored: i32 = ABSENT;
        if (totalStored != ABSENT && overlaps(this.totalRead, <f64>h * HOUR_MS, HOUR_MS)) {
          hourStored = this.read(this.hourRead);
          if (hourStored == READ_FAILED) return false;
        }
        hour.reset();
        while (i < n && <i32>(unchecked(keys[i]) >> 50) == rid && <u32>(((unchecked(keys[i]) >> 18) & 0xffffffff) / 60) == h) {
          const m = <u32>((unchecked(keys[i]) >> 18) & 0xffffffff);
          minute.reset();
          while (i < n && (unchecked(keys[i]) >> 18) == ((<u64>rid << 32) | <u64>m)) {
            const p = this.points + <usize>(unchecked(keys[i]) & 0x3ffff) * POINT_SIZE;
            minute.addReading(
              load<f64>(p), load<i64>(p, 8), <i32>load<u16>(p, 30), <u64>load<f64>(p, 16),
              <usize>load<u32>(p, 24), <i32>load<u16>(p, 28),
            );
            i++;
          }
          bucketKey(this.key, KIND_MINUTE, m, rPtr, rLen);
          let minuteStored: i32 = ABSENT;
          if (hourStored != ABSENT && overlaps(this.hourRead, <f64>m * MINUTE_MS, MINUTE_MS)) {
            minuteStored = this.read(this.minuteRead);
            if (minuteStored == READ_FAILED) return false;
          }
          if (!this.write(minute, this.minuteRead, minuteStored)) return false;
          hour.mergeAcc(minute);
        }
        bucketKey(this.key, KIND_HOUR, h, rPtr, rLen);
        if (!this.write(hour, this.hourRead, hourStored)) return false;
        total.mergeAcc(hour);
      }
      totalKey(this.key, rPtr, rLen);
      if (!this.write(total, this.totalRead, totalStored)) return false;
    }
    // Start a new chunk.
    this.n = 0;
    this.nRegions = 0;
    memory.fill(this.slots, 0, <usize>(this.slotMask + 1) << 2);
    return true;
  }

  /** Reads the record under the current key into `buf`: its length, ABSENT, or READ_FAILED (logged). */
  private read(buf: ByteBuffer): i32 {
    const key = this.key;
    let got = kv.getInto(key.ptr, key.len, buf.ptr, buf.cap);
    if (got > buf.cap) {
      buf.ensure(got);
      got = kv.getInto(key.ptr, key.len, buf.ptr, buf.cap);
    }
    if (got == AbiError.NOT_FOUND) return ABSENT;
    if (got < 0 || got > buf.cap) {
      log.error("aggregator: kv_get failed: " + AbiError.name(got < 0 ? got : AbiError.INVALID));
      return READ_FAILED;
    }
    buf.len = got;
    return got;
  }

  /** Writes `acc` merged with the stored record in `stored` (unless storedLen is ABSENT) under the current key. */
  private write(acc: Acc, stored: ByteBuffer, storedLen: i32): bool {
    const key = this.key;
    const out = this.out;
    out.reset();
    if (storedLen == ABSENT) encodeAcc(out, acc);
    else encodeMerged(out, stored.ptr, storedLen, acc);
    const put = kv.putRaw(key.ptr, key.len, out.ptr, out.len);
    if (put < 0) {
      log.error("aggregator: kv_put failed: " + AbiError.name(put));
      return false;
    }
    return true;
  }
}

/** Whether the stored record in `buf` has readings that may fall in [start, start + size). */
function overlaps(buf: ByteBuffer, start: f64, size: f64): bool {
  const h = readHeader(new VarintReader(buf.ptr, buf.len));
  return <f64>h.firstTime < start + size && <f64>h.lastTime >= start;
}

/** Whether an event is a reading this fold can use; otherwise it is skipped (counted and logged). */
function skipReason(r: EventReader): string | null {
  if (!validRegion(r.partitionPtr, r.partitionLen)) return "partition is not a valid region";
  if (!validDevice(r.sourcePtr, r.sourceLen)) return "source is not a valid device id";
  const t = r.timeMs;
  if (!(t >= 0 && t < MAX_BUCKET_TIME) || Math.floor(t) != t) return "time out of range";
  if (r.payloadLen != 8) return "payload is not 8 bytes";
  const temp = load<f64>(r.payloadPtr);
  if (!(temp >= MIN_TEMP && temp <= MAX_TEMP)) return "temperature out of range";
  return null;
}

export function onEvents(ptr: i32, len: i32): i32 {
  const r = new EventReader(ptr, len);
  if (!r.ok) {
    log.error("aggregator: malformed ea_on_events input");
    return 1;
  }
  const count = <i32>min<u32>(r.count, <u32>CHUNK);
  const f = new Folder(count > 0 ? count : 1);
  let folded: i32 = 0;
  let skipped: i32 = 0;
  while (r.next()) {
    const reason = skipReason(r);
    if (reason != null) {
      if (skipped < 10) log.warn("aggregator: skipped an event: " + reason);
      skipped++;
      continue;
    }
    const temp = load<f64>(r.payloadPtr) + 0.0; // -0 -> 0
    const time = r.timeMs + 0.0;
    if (!f.add(r.partitionPtr, r.partitionLen, r.sourcePtr, r.sourceLen, time, temp)) {
      if (!f.flush()) return 1;
      f.add(r.partitionPtr, r.partitionLen, r.sourcePtr, r.sourceLen, time, temp);
    }
    folded++;
  }
  if (!r.ok) {
    log.error("aggregator: malformed ea_on_events input");
    return 1;
  }
  if (!f.flush()) return 1;
  if (folded > 0) metrics.add("events_folded", <f64>folded);
  if (skipped > 0) metrics.add("events_skipped", <f64>skipped);
  return 0;
}
