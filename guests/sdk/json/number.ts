// JSON numbers: exact decimal -> f64 conversion (the same double JSON.parse gives) and f64 -> text that
// JSON.parse reads back as the same double.
//
// Parsing takes, in order:
//   1. Clinger's fast path: at most 19 significant digits with a mantissa <= 2^53 and |exp10| <= 22,
//      where one IEEE multiplication or division by an exact power of ten is correctly rounded;
//   2. the Eisel-Lemire algorithm (a 64x128-bit product with a table of powers of ten), which settles
//      almost every other input, and says so when it cannot;
//   3. a big-decimal conversion (shift the decimal digits by powers of two until the value lies in
//      [1/2, 1), then round the 53 leading bits, looking at every remaining digit), which is exact for
//      any input and is only reached for halfway cases and extreme exponents.

import { dtoa_buffered } from "util/number";
import { POW10_128, POW10_MIN, POW10_MAX } from "./pow10";

/** What a scan of a number's text found: value = (neg ? -1 : 1) * w * 10^e, exactly unless `trunc`. */
export class NumberScan {
  /** Up to 19 leading significant digits. */
  w: u64 = 0;
  /** Decimal exponent of the last digit kept in `w`. */
  e: i32 = 0;
  /** Whether a non-zero digit was dropped after the 19th significant digit. */
  trunc: bool = false;
  neg: bool = false;
  /** The number's text. */
  ptr: usize = 0;
  len: i32 = 0;
}

const EXP_CAP: i32 = 100_000_000;

/**
 * Scans a JSON number (RFC 8259 grammar) at `ptr`, not reading at or past `end`. Returns the position after
 * it, or 0 when the text is not a number.
 */
export function scanNumber(ptr: usize, end: usize, out: NumberScan): usize {
  let p = ptr;
  let neg = false;
  if (p < end && load<u8>(p) == 0x2d) {
    neg = true;
    p++;
  }
  if (p >= end) return 0;
  let w: u64 = 0;
  let e: i32 = 0;
  let nsig: i32 = 0;
  let trunc = false;
  let c = <u32>load<u8>(p);
  if (c == 0x30) {
    p++;
  } else if (c - 0x31 < 9) {
    while (p < end) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d >= 10) break;
      if (nsig < 19) {
        w = w * 10 + <u64>d;
        nsig++;
      } else {
        e++;
        if (d != 0) trunc = true;
      }
      p++;
    }
  } else {
    return 0;
  }
  if (p < end && load<u8>(p) == 0x2e) {
    p++;
    const first = p;
    while (p < end) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d >= 10) break;
      if (nsig < 19) {
        w = w * 10 + <u64>d;
        e--;
        if (w != 0) nsig++;
      } else if (d != 0) {
        trunc = true;
      }
      p++;
    }
    if (p == first) return 0;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    let eneg = false;
    if (p < end) {
      const s = load<u8>(p);
      if (s == 0x2d) {
        eneg = true;
        p++;
      } else if (s == 0x2b) {
        p++;
      }
    }
    const first = p;
    let x: i32 = 0;
    while (p < end) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d >= 10) break;
      if (x < EXP_CAP) x = x * 10 + <i32>d;
      p++;
    }
    if (p == first) return 0;
    e += eneg ? -x : x;
  }
  out.w = w;
  out.e = e;
  out.trunc = trunc;
  out.neg = neg;
  out.ptr = ptr;
  out.len = <i32>(p - ptr);
  return p;
}

// Exact powers of ten as doubles, 1e0 .. 1e22.
// @ts-ignore: decorator
@lazy const EXACT_POW10: usize = memory.data<f64>([
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]);

/** The double nearest to the scanned number (ties to even), as JSON.parse gives. */
export function scanToF64(s: NumberScan): f64 {
  const w = s.w;
  const e = s.e;
  if (w == 0) return s.neg ? -0.0 : 0.0;
  if (!s.trunc && w <= (<u64>1 << 53) && e >= -22 && e <= 22) {
    const f = <f64>w;
    const r = e < 0 ? f / load<f64>(EXACT_POW10 + (<usize>(-e) << 3)) : f * load<f64>(EXACT_POW10 + (<usize>e << 3));
    return s.neg ? -r : r;
  }
  let r = eiselLemire(w, e);
  if (r >= 0) {
    if (!s.trunc) return s.neg ? -r : r;
    // The digits continue after the 19th: the value lies in (w, w+1) * 10^e.
    const r2 = eiselLemire(w + 1, e);
    if (r2 == r) return s.neg ? -r : r;
  }
  r = decimalSlowPath(s.ptr, s.len);
  return s.neg ? -r : r;
}

/** Parses a whole JSON number text; NaN if it is not one. */
export function parseNumber(ptr: usize, len: i32): f64 {
  const s = new NumberScan();
  const end = ptr + <usize>len;
  if (scanNumber(ptr, end, s) != end) return NaN;
  return scanToF64(s);
}

// ---- Eisel-Lemire ----------------------------------------------------------------------------------------

let mulHi: u64 = 0;

/** The low 64 bits of a*b; the high 64 bits are left in `mulHi`. */
// @ts-ignore: decorator
@inline function mul128(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  mulHi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (mid << 32) | (p00 & 0xffffffff);
}

/** w * 10^e10 correctly rounded, as a positive double; -1 when the fast algorithm cannot decide. w > 0. */
function eiselLemire(w: u64, e10: i32): f64 {
  if (e10 < POW10_MIN || e10 > POW10_MAX) return -1;
  const entry = POW10_128 + (<usize>(e10 - POW10_MIN) << 4);
  const powHi = load<u64>(entry);
  const powLo = load<u64>(entry, 8);
  const lz = clz<u64>(w);
  const man = w << lz;
  let exp2: i64 = <i64>(((217706 * e10) >> 16) + 64 + 1023) - <i64>lz;

  let lo = mul128(man, powHi);
  let hi = mulHi;
  if ((hi & 0x1ff) == 0x1ff && lo + man < man) {
    // The product's truncation may matter: add the contribution of the table entry's low half.
    const yLo = mul128(man, powLo);
    const yHi = mulHi;
    let mergedHi = hi;
    const mergedLo = lo + yHi;
    if (mergedLo < lo) mergedHi++;
    if ((mergedHi & 0x1ff) == 0x1ff && mergedLo + 1 == 0 && yLo + man < man) return -1;
    hi = mergedHi;
    lo = mergedLo;
  }
  const msb = hi >> 63;
  let mant = hi >> (msb + 9);
  exp2 -= <i64>(1 ^ msb);
  // Exactly halfway between two doubles as far as these bits can tell.
  if (lo == 0 && (hi & 0x1ff) == 0 && (mant & 3) == 1) return -1;
  mant += mant & 1;
  mant >>= 1;
  if (mant >> 53 != 0) {
    mant >>= 1;
    exp2++;
  }
  // Subnormal, zero, infinite: leave it to the exact path.
  if (exp2 <= 0 || exp2 >= 0x7ff) return -1;
  return reinterpret<f64>((<u64>exp2 << 52) | (mant & 0x000fffffffffffff));
}

// ---- Exact big-decimal conversion ------------------------------------------------------------------------

// Enough digits to decide the rounding of any double exactly; further non-zero digits only set `dTrunc`.
const MAX_DIGITS: i32 = 800;
// Digits (0-9, not ASCII), with room for the carries of one shift before truncation.
// @ts-ignore: decorator
@lazy const digits: usize = memory.data(MAX_DIGITS + 64);
let nd: i32 = 0; // number of digits
let dp: i32 = 0; // decimal point: value = 0.d[0]d[1]... * 10^dp
let dTrunc: bool = false; // non-zero digits were dropped past MAX_DIGITS

// @ts-ignore: decorator
@inline function dig(i: i32): u32 {
  return <u32>load<u8>(digits + <usize>i);
}

// @ts-ignore: decorator
@inline function setDig(i: i32, v: u32): void {
  store<u8>(digits + <usize>i, <u8>v);
}

function trimZeros(): void {
  while (nd > 0 && dig(nd - 1) == 0) nd--;
  if (nd == 0) dp = 0;
}

/** Divides the decimal by 2^k, 0 < k <= 60. */
function shiftRight(k: u32): void {
  let r: i32 = 0;
  let n: u64 = 0;
  // Read leading digits until the quotient's first digit is non-zero.
  while ((n >> k) == 0) {
    if (r < nd) {
      n = n * 10 + <u64>dig(r);
      r++;
    } else if (n == 0) {
      nd = 0;
      dp = 0;
      return;
    } else {
      n *= 10;
      r++;
    }
  }
  dp -= r - 1;
  const mask: u64 = (<u64>1 << k) - 1;
  let w: i32 = 0;
  // Each step emits one quotient digit and takes in one more dividend digit.
  for (; r < nd; r++) {
    const q = <u32>(n >> k);
    n &= mask;
    setDig(w++, q);
    n = n * 10 + <u64>dig(r);
  }
  // Then the remainder's digits.
  while (n > 0) {
    const q = <u32>(n >> k);
    n &= mask;
    if (w < MAX_DIGITS) {
      setDig(w++, q);
    } else if (q > 0) {
      dTrunc = true;
    }
    n *= 10;
  }
  nd = w;
  trimZeros();
}

/** Multiplies the decimal by 2^k, 0 < k <= 60. */
function shiftLeft(k: u32): void {
  // The product has at most nd + digits(2^k) digits; k * log10(2) < (k * 1233 >> 12) + 1.
  const extra = <i32>((k * 1233) >> 12) + 2;
  let w = nd + extra; // digits are written at w-1, w-2, ...
  let n: u64 = 0;
  for (let r = nd - 1; r >= 0; r--) {
    n += <u64>dig(r) << k;
    const q = n / 10;
    setDig(--w, <u32>(n - q * 10));
    n = q;
  }
  while (n > 0) {
    const q = n / 10;
    setDig(--w, <u32>(n - q * 10));
    n = q;
  }
  // Digits now occupy [w, nd + extra); move them to the front.
  let count = nd + extra - w;
  if (w > 0) memory.copy(digits, digits + <usize>w, <usize>count);
  dp += count - nd;
  if (count > MAX_DIGITS) {
    for (let i = MAX_DIGITS; i < count; i++) {
      if (dig(i) != 0) {
        dTrunc = true;
        break;
      }
    }
    count = MAX_DIGITS;
  }
  nd = count;
  trimZeros();
}

function shiftBy(k: i32): void {
  if (nd == 0) return;
  if (k > 0) {
    while (k > 60) {
      shiftLeft(60);
      k -= 60;
    }
    shiftLeft(<u32>k);
  } else if (k < 0) {
    k = -k;
    while (k > 60) {
      shiftRight(60);
      k -= 60;
    }
    shiftRight(<u32>k);
  }
}

/** The integer part, rounded to nearest (ties to even; dropped non-zero digits break ties upwards). */
function roundedInteger(): u64 {
  if (dp > 20) return 0xffffffffffffffff;
  let n: u64 = 0;
  let i: i32 = 0;
  for (; i < dp && i < nd; i++) n = n * 10 + <u64>dig(i);
  for (; i < dp; i++) n *= 10;
  if (dp >= 0 && dp < nd) {
    const d = dig(dp);
    let up: bool;
    if (d == 5 && dp + 1 == nd) {
      up = dTrunc || (dp > 0 && (dig(dp - 1) & 1) == 1);
    } else {
      up = d >= 5;
    }
    if (up) n++;
  }
  return n;
}

// How many bits to shift to move the decimal point by about i digits.
// @ts-ignore: decorator
@lazy const SHIFT_FOR_DIGITS: usize = memory.data<u8>([1, 3, 6, 9, 13, 16, 19, 23, 26]);

// @ts-ignore: decorator
@inline function shiftFor(digitsToMove: i32): i32 {
  return digitsToMove >= 9 ? 27 : <i32>load<u8>(SHIFT_FOR_DIGITS + <usize>digitsToMove);
}

/** Exact conversion of the (grammar-valid) number text, ignoring its sign. */
function decimalSlowPath(ptr: usize, len: i32): f64 {
  const end = ptr + <usize>len;
  let p = ptr;
  if (load<u8>(p) == 0x2d) p++;
  nd = 0;
  dp = 0;
  dTrunc = false;
  let inFraction = false;
  for (; p < end; p++) {
    const c = <u32>load<u8>(p);
    if (c == 0x2e) {
      inFraction = true;
      continue;
    }
    const d = c - 0x30;
    if (d >= 10) break;
    if (d == 0 && nd == 0) {
      // Leading zeros carry no digits; in the fraction they move the point.
      if (inFraction) dp--;
      continue;
    }
    if (nd < MAX_DIGITS) {
      setDig(nd++, d);
    } else if (d != 0) {
      dTrunc = true;
    }
    if (!inFraction) dp++;
  }
  if (p < end) {
    // Exponent.
    p++;
    let eneg = false;
    const s = load<u8>(p);
    if (s == 0x2d) {
      eneg = true;
      p++;
    } else if (s == 0x2b) {
      p++;
    }
    let x: i32 = 0;
    for (; p < end; p++) {
      if (x < EXP_CAP) x = x * 10 + <i32>(load<u8>(p) - 0x30);
    }
    dp += eneg ? -x : x;
  }
  trimZeros();
  if (nd == 0) return 0;
  if (dp > 310) return Infinity;
  if (dp < -330) return 0;

  let exp: i32 = 0;
  // Scale into [1/2, 1) by powers of two, counting them in `exp`.
  while (dp > 0) {
    const n = shiftFor(dp);
    shiftBy(-n);
    exp += n;
  }
  while (dp < 0 || (dp == 0 && dig(0) < 5)) {
    const n = shiftFor(-dp);
    shiftBy(n);
    exp -= n;
  }
  // value = 0.d * 2^exp with 0.d in [1/2, 1): as 1.x * 2^(exp-1).
  exp--;
  if (exp < -1022) {
    // Subnormal: keep the exponent at the minimum and shift the mantissa down.
    const n = -1022 - exp;
    shiftBy(-n);
    exp += n;
  }
  if (exp + 1023 >= 0x7ff) return Infinity;
  shiftBy(53);
  let mant = roundedInteger();
  if (mant == (<u64>1 << 53)) {
    mant >>= 1;
    exp++;
    if (exp + 1023 >= 0x7ff) return Infinity;
  }
  let biased: u64 = <u64>(exp + 1023);
  if ((mant & (<u64>1 << 52)) == 0) biased = 0;
  return reinterpret<f64>((biased << 52) | (mant & 0x000fffffffffffff));
}

// ---- Formatting ------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@lazy const FMT_BUF: usize = memory.data(64);

/**
 * Writes `x` as JSON number text to `dst` (at least 32 bytes) and returns its length. The text reads back as
 * exactly `x` (including -0, written "-0"); non-finite values are written `null`. Integers below 2^53 are
 * written without exponent or fraction, like JavaScript does.
 */
export function formatNumber(dst: usize, x: f64): i32 {
  if (!isFinite(x)) {
    store<u32>(dst, 0x6c6c756e); // "null"
    return 4;
  }
  if (x == 0) {
    if ((reinterpret<u64>(x) >> 63) != 0) {
      store<u16>(dst, 0x302d); // "-0"
      return 2;
    }
    store<u8>(dst, 0x30);
    return 1;
  }
  const ax = Math.abs(x);
  if (ax < 9007199254740992.0 && Math.floor(ax) == ax) {
    return formatInteger(dst, <i64>x);
  }
  // Grisu2 (AssemblyScript's dtoa) writes UTF-16; narrow it. It writes integer-valued doubles as "123.0".
  let n = <i32>dtoa_buffered<f64>(FMT_BUF, x);
  if (n >= 2 && load<u16>(FMT_BUF + (<usize>(n - 1) << 1)) == 0x30 && load<u16>(FMT_BUF + (<usize>(n - 2) << 1)) == 0x2e) {
    n -= 2;
  }
  for (let i = 0; i < n; i++) store<u8>(dst + <usize>i, <u8>load<u16>(FMT_BUF + (<usize>i << 1)));
  return n;
}

/** Writes a signed integer in decimal to `dst` (at least 20 bytes) and returns its length. */
export function formatInteger(dst: usize, v: i64): i32 {
  let n: i32 = 0;
  let u: u64;
  if (v < 0) {
    store<u8>(dst, 0x2d);
    n = 1;
    u = <u64>(-v);
  } else {
    u = <u64>v;
  }
  return n + formatUnsigned(dst + <usize>n, u);
}

/** Writes an unsigned integer in decimal to `dst` (at least 20 bytes) and returns its length. */
export function formatUnsigned(dst: usize, u: u64): i32 {
  // Digits are produced backwards into a scratch area, then copied.
  let p = FMT_BUF + 32;
  do {
    const q = u / 10;
    store<u8>(--p, <u8>(0x30 + <u32>(u - q * 10)));
    u = q;
  } while (u != 0);
  const len = <i32>(FMT_BUF + 32 - p);
  memory.copy(dst, p, <usize>len);
  return len;
}
