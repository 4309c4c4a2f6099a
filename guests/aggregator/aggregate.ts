// Aggregates of temperature readings: count, exact sum, min, max, last, and a mergeable quantile sketch.
//
// Every operation here is commutative and associative, and the stored form is canonical, so the stored bytes
// are a function of the SET of readings folded in, whatever their order or batching:
//   - count and the sum (an i64 of micro-degrees, each reading rounded to 1e-6 degC, half away from zero) add;
//   - min and max (-0 is normalised to 0 before it gets here);
//   - first time: the smallest timestamp; last: the reading with the greatest (timestamp, device_id bytes),
//     then the greatest temperature (only for identical identities, which the event log never holds twice);
//   - the sketch's bucket counts add.
//
// Sketch: DDSketch with relative accuracy ALPHA = 0.01, gamma = (1 + ALPHA) / (1 - ALPHA). A value x with
// |x| >= 0.001 goes to bucket i = ceil(log_gamma |x|) of the store of its sign, i.e. |x| in (gamma^(i-1),
// gamma^i], represented by 2 gamma^i / (gamma + 1), which is within ALPHA of every value of the bucket;
// |x| < 0.001 goes to the zero bucket, represented by 0. All buckets share one index space ("K") ordered like
// the values: negative store (largest magnitude first), zero, positive store.
//
// Record (kv value), version 1, little-endian:
//   u8 version=1 | varint count | varint zigzag(sum_micro) | f64 min | f64 max | varint first_time |
//   varint last_time | f64 last_temp | u8 len + last_device bytes | u16 nbins |
//   nbins x (varint K delta from the previous K (from 0), varint count)

import { ByteBuffer, VarintReader, zigzag, unzigzag, compareBytes } from "../sdk";

export const ALPHA: f64 = 0.01;
/** (1 + ALPHA) / (1 - ALPHA) */
export const GAMMA: f64 = 1.02020202020202;
/** Math.log(GAMMA) */
const LN_GAMMA: f64 = 0.020000666706669435;
/** Values with a smaller magnitude go to the zero bucket. */
export const ZERO_THRESHOLD: f64 = 0.001;

// K layout: negative store K = NEG_BASE - i, zero K = ZERO_K, positive store K = POS_BASE + i, |i| <= MAX_I.
const MAX_I: i32 = 390;
const NEG_BASE: i32 = 400;
export const ZERO_K: i32 = 800;
const POS_BASE: i32 = 1200;
/** Number of K values. */
export const NK: i32 = 1600;

const RECORD_VERSION: u32 = 1;

// Natural logarithm and integer powers, written out here (rather than Math.log/Math.pow) so that the bucket of
// a value does not depend on which implementation the compiler picks for the optimisation level.
const SQRT2: f64 = 1.4142135623730951;
const LN2_HI: f64 = 6.93147180369123816490e-01; // ln 2, high part (exact in e * LN2_HI)
const LN2_LO: f64 = 1.90821492927058770002e-10; // ln 2 - LN2_HI

/** ln(x) for a positive normal x, within a few ulps. */
export function ln(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000); // [1, 2)
  if (m > SQRT2) {
    m *= 0.5;
    e++;
  }
  // ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1), |s| <= 0.1716: 11 terms reach 1e-19.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p: f64 = 1.0 / 21;
  p = p * s2 + 1.0 / 19;
  p = p * s2 + 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  p = p * s2 * s; // s^3/3 + s^5/5 + ...
  const fe = <f64>e;
  return fe * LN2_HI + (2 * s + (2 * p + fe * LN2_LO));
}

/** GAMMA^n by repeated squaring. */
function gammaPow(n: i32): f64 {
  let neg = n < 0;
  let k = neg ? -n : n;
  let r: f64 = 1;
  let b = GAMMA;
  while (k != 0) {
    if (k & 1) r *= b;
    b *= b;
    k >>= 1;
  }
  return neg ? 1 / r : r;
}

/** The sketch bucket (K) of a value. */
export function sketchKey(x: f64): i32 {
  const a = Math.abs(x);
  if (!(a >= ZERO_THRESHOLD)) return ZERO_K;
  let i = <i32>Math.ceil(ln(a) / LN_GAMMA);
  if (i > MAX_I) i = MAX_I;
  if (i < -MAX_I) i = -MAX_I;
  return x < 0 ? NEG_BASE - i : POS_BASE + i;
}

/** The value that represents bucket K. */
export function sketchValue(k: i32): f64 {
  if (k == ZERO_K) return 0;
  if (k < ZERO_K) return -2 * gammaPow(NEG_BASE - k) / (GAMMA + 1);
  return 2 * gammaPow(k - POS_BASE) / (GAMMA + 1);
}

/**
 * round(x * 1e6), half away from zero, computed exactly from the double x (|x| <= 1e9): the product is split
 * into p + e exactly (Dekker), so the rounding sees the true decimal value, not the rounded product.
 */
export function toMicro(x: f64): i64 {
  const neg = x < 0;
  const a = Math.abs(x);
  const p = a * 1e6;
  // Veltkamp split of a into hi + lo (26 + 26 bits); 1e6 has 14 significant bits, so hi*1e6 and lo*1e6 are exact.
  const c = 134217729.0 * a;
  const hi = c - (c - a);
  const lo = a - hi;
  const e = (hi * 1e6 - p) + lo * 1e6; // a * 1e6 = p + e exactly
  const f = Math.floor(p);
  const d = (p - f) - 0.5; // exact
  let r = <i64>f;
  if (d > 0 || (d == 0 && e >= 0)) r++;
  return neg ? -r : r;
}

/** An aggregate being built: scalars and dense bucket counts over the K range [minK, maxK]. */
export class Acc {
  count: u64 = 0;
  sum: i64 = 0;
  min: f64 = Infinity;
  max: f64 = -Infinity;
  firstTime: u64 = 0;
  lastTime: u64 = 0;
  lastTemp: f64 = 0;
  lastDevPtr: usize = 0;
  lastDevLen: i32 = 0;
  // Dense bucket counts (NK x u64) and the touched range.
  bins: usize;
  minK: i32 = NK;
  maxK: i32 = -1;

  constructor() {
    this.bins = heap.alloc(<usize>NK << 3);
    memory.fill(this.bins, 0, <usize>NK << 3);
  }

  reset(): void {
    if (this.maxK >= this.minK) {
      memory.fill(this.bins + (<usize>this.minK << 3), 0, <usize>(this.maxK - this.minK + 1) << 3);
    }
    this.minK = NK;
    this.maxK = -1;
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.firstTime = 0;
    this.lastTime = 0;
    this.lastTemp = 0;
    this.lastDevPtr = 0;
    this.lastDevLen = 0;
  }

  @inline addBin(k: i32, n: u64): void {
    const p = this.bins + (<usize>k << 3);
    store<u64>(p, load<u64>(p) + n);
    if (k < this.minK) this.minK = k;
    if (k > this.maxK) this.maxK = k;
  }

  @inline binAt(k: i32): u64 {
    return load<u64>(this.bins + (<usize>k << 3));
  }

  /** Merges the scalar part of another aggregate (count > 0) into this one. */
  mergeScalars(count: u64, sum: i64, min: f64, max: f64, firstTime: u64, lastTime: u64, lastTemp: f64, devPtr: usize, devLen: i32): void {
    if (this.count == 0) {
      this.count = count;
      this.sum = sum;
      this.min = min;
      this.max = max;
      this.firstTime = firstTime;
      this.lastTime = lastTime;
      this.lastTemp = lastTemp;
      this.lastDevPtr = devPtr;
      this.lastDevLen = devLen;
      return;
    }
    this.count += count;
    this.sum += sum;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
    if (firstTime < this.firstTime) this.firstTime = firstTime;
    if (isLater(lastTime, devPtr, devLen, lastTemp, this.lastTime, this.lastDevPtr, this.lastDevLen, this.lastTemp)) {
      this.lastTime = lastTime;
      this.lastTemp = lastTemp;
      this.lastDevPtr = devPtr;
      this.lastDevLen = devLen;
    }
  }

  /** Adds one reading. */
  addReading(temp: f64, micro: i64, k: i32, time: u64, devPtr: usize, devLen: i32): void {
    this.mergeScalars(1, micro, temp, temp, time, time, temp, devPtr, devLen);
    this.addBin(k, 1);
  }

  /** Merges another accumulator into this one. */
  mergeAcc(o: Acc): void {
    if (o.count == 0) return;
    this.mergeScalars(o.count, o.sum, o.min, o.max, o.firstTime, o.lastTime, o.lastTemp, o.lastDevPtr, o.lastDevLen);
    for (let k = o.minK; k <= o.maxK; k++) {
      const n = o.binAt(k);
      if (n != 0) this.addBin(k, n);
    }
  }

  /**
   * Merges a stored record into this accumulator. The device id of `last` may then point into the record's
   * memory: keep it alive while the accumulator is used. Aborts on a corrupt record.
   */
  mergeRecord(ptr: usize, len: i32): void {
    const r = new VarintReader(ptr, len);
    const h = readHeader(r);
    this.mergeScalars(h.count, h.sum, h.min, h.max, h.firstTime, h.lastTime, h.lastTemp, h.devPtr, h.devLen);
    const nbins = <i32>r.u16le();
    let k: i32 = 0;
    for (let i = 0; i < nbins; i++) {
      const d = r.u64();
      const n = r.u64();
      if (!r.ok || d >= <u64>NK || (i > 0 && d == 0) || k + <i32>d >= NK || n == 0) abort("corrupt aggregate record", null, 0, 0);
      k += <i32>d;
      this.addBin(k, n);
    }
    if (!r.ok || r.pos != r.end) abort("corrupt aggregate record", null, 0, 0);
  }

  /**
   * Value at 0-based rank floor(q * (count - 1)) in ascending order, estimated by the sketch. count > 0. The
   * estimate is kept within [min, max], which the true value is in: never a p50 below the smallest reading.
   */
  quantile(q: f64): f64 {
    const rank = <u64>Math.floor(q * <f64>(this.count - 1));
    let seen: u64 = 0;
    let k = this.minK;
    for (; k < this.maxK; k++) {
      seen += this.binAt(k);
      if (seen > rank) break;
    }
    const v = sketchValue(k);
    return v < this.min ? this.min : v > this.max ? this.max : v;
  }
}

/** Whether reading (t1, dev1, temp1) is "later" than (t2, dev2, temp2): time, then device bytes, then temp. */
// @ts-ignore: decorator
@inline function isLater(t1: u64, d1: usize, l1: i32, v1: f64, t2: u64, d2: usize, l2: i32, v2: f64): bool {
  if (t1 != t2) return t1 > t2;
  const c = compareBytes(d1, l1, d2, l2);
  if (c != 0) return c > 0;
  return v1 > v2;
}

/** The scalar part of a decoded record. */
export class Header {
  count: u64 = 0;
  sum: i64 = 0;
  min: f64 = 0;
  max: f64 = 0;
  firstTime: u64 = 0;
  lastTime: u64 = 0;
  lastTemp: f64 = 0;
  devPtr: usize = 0;
  devLen: i32 = 0;
}

/** Reads a record's scalar part and leaves `r` at the bins. */
export function readHeader(r: VarintReader): Header {
  const h = new Header();
  if (r.u8() != RECORD_VERSION) abort("unknown aggregate record version", null, 0, 0);
  h.count = r.u64();
  h.sum = unzigzag(r.u64());
  h.min = r.f64le();
  h.max = r.f64le();
  h.firstTime = r.u64();
  h.lastTime = r.u64();
  h.lastTemp = r.f64le();
  h.devLen = <i32>r.u8();
  h.devPtr = r.skip(h.devLen);
  if (!r.ok || h.count == 0) abort("corrupt aggregate record", null, 0, 0);
  return h;
}

function writeHeader(out: ByteBuffer, a: Acc): void {
  out.byte(RECORD_VERSION);
  out.varint(a.count);
  out.varint(zigzag(a.sum));
  out.f64le(a.min);
  out.f64le(a.max);
  out.varint(a.firstTime);
  out.varint(a.lastTime);
  out.f64le(a.lastTemp);
  out.byte(<u32>a.lastDevLen);
  out.bytes(a.lastDevPtr, a.lastDevLen);
}

/** Encodes an accumulator (count > 0) as a record. */
export function encodeAcc(out: ByteBuffer, a: Acc): void {
  writeHeader(out, a);
  const at = out.len;
  out.u16le(0);
  let n: u32 = 0;
  let prev: i32 = 0;
  for (let k = a.minK; k <= a.maxK; k++) {
    const c = a.binAt(k);
    if (c == 0) continue;
    out.varint(<u64>(k - prev));
    out.varint(c);
    prev = k;
    n++;
  }
  store<u16>(out.ptr + <usize>at, <u16>n);
}

let mergeTmp: Acc | null = null;

/** The bins of a stored record, read one at a time by {@link encodeMerged}. */
class StoredBins {
  /** The current bin's K (NK once past the last) and count. */
  key: i32 = NK;
  count: u64 = 0;
  /** The K the current bin's delta is taken from: the bin before it, 0 for the first. */
  prevKey: i32 = 0;
  /** Where the current bin's bytes (delta, count) start in the record. */
  start: usize = 0;
  private read: i32 = 0;

  constructor(private r: VarintReader, private total: i32) {
    this.advance();
  }

  /** Moves to the next bin. A record that is not canonical (a count of 0, Ks not increasing) aborts. */
  advance(): void {
    const first = this.read == 0;
    this.prevKey = first ? 0 : this.key;
    this.start = this.r.pos;
    if (this.read >= this.total) {
      this.key = NK;
      return;
    }
    const d = <i32>this.r.u64();
    if (first ? d < 0 || d >= NK : d <= 0 || d >= NK - this.key) abort("corrupt aggregate record", null, 0, 0);
    this.key = this.prevKey + d;
    this.count = this.r.u64();
    if (!this.r.ok || this.count == 0) abort("corrupt aggregate record", null, 0, 0);
    this.read++;
  }
}

/**
 * Encodes stored record [ptr, ptr+len) merged with accumulator `a` (count > 0), without changing `a`. The
 * bins of both are sorted by K: they are merged in one pass.
 */
export function encodeMerged(out: ByteBuffer, ptr: usize, len: i32, a: Acc): void {
  const r = new VarintReader(ptr, len);
  const h = readHeader(r);
  // Scalars: merged in a scratch accumulator (whose bins stay empty).
  let m = mergeTmp;
  if (m == null) mergeTmp = m = new Acc();
  m.count = 0;
  m.mergeScalars(h.count, h.sum, h.min, h.max, h.firstTime, h.lastTime, h.lastTemp, h.devPtr, h.devLen);
  m.mergeScalars(a.count, a.sum, a.min, a.max, a.firstTime, a.lastTime, a.lastTemp, a.lastDevPtr, a.lastDevLen);
  writeHeader(out, m);
  const bins = new StoredBins(r, <i32>r.u16le());
  if (!r.ok) abort("corrupt aggregate record", null, 0, 0);
  const at = out.len;
  out.u16le(0);
  let n: u32 = 0;
  let prev: i32 = 0;
  const maxK = a.maxK;
  let k = a.minK;
  while (k <= maxK && a.binAt(k) == 0) k++;
  while (bins.key < NK || k <= maxK) {
    const ak = k <= maxK ? k : NK;
    if (bins.key < ak && prev == bins.prevKey) {
      // Stored bins the group does not touch, right after the last bin written: their bytes (delta, count)
      // are the same in the output, so the run up to the group's next bin is copied as it is. An hour or
      // all-time record holds hundreds of bins and a group touches a few: this is most of a merge.
      const runStart = bins.start;
      while (bins.key < ak) {
        prev = bins.key;
        n++;
        bins.advance();
      }
      out.bytes(runStart, <i32>(bins.start - runStart));
      continue;
    }
    let key: i32;
    let cnt: u64;
    let takeStored = false;
    if (bins.key < ak) {
      key = bins.key;
      cnt = bins.count;
      takeStored = true;
    } else {
      key = ak;
      cnt = a.binAt(ak);
      if (bins.key == ak) {
        cnt += bins.count;
        takeStored = true;
      }
      k++;
      while (k <= maxK && a.binAt(k) == 0) k++;
    }
    if (takeStored) bins.advance();
    out.varint(<u64>(key - prev));
    out.varint(cnt);
    prev = key;
    n++;
  }
  if (!r.ok || r.pos != r.end) abort("corrupt aggregate record", null, 0, 0);
  store<u16>(out.ptr + <usize>at, <u16>n);
}
