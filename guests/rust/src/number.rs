//! Doubles as JSON text: the shortest digits that read back as the same double, laid out as JavaScript's
//! `Number.prototype.toString` does (`1e+21`, `1.5e-7`, `0.001`), without core's float formatting (about
//! 30 KB of code and tables in a guest). The digits come from exact big-integer arithmetic; each candidate
//! length is checked by reading it back with core's parser (exact, and already in any guest that reads JSON).

/// Significant digits computed: 17 always suffice to round-trip, one more decides the rounding.
const DIGITS: usize = 18;

/// A little-endian big integer with just the operations [`exact_digits`] needs.
struct Big(Vec<u32>);

impl Big {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    fn mul_small(&mut self, k: u32) {
        let mut carry = 0u64;
        for limb in self.0.iter_mut() {
            let v = *limb as u64 * k as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// Divides in place; returns the remainder.
    fn div_small(&mut self, k: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = rem << 32 | *limb as u64;
            *limb = (v / k as u64) as u32;
            rem = v % k as u64;
        }
        rem as u32
    }

    /// The bits from `s` upwards (fewer than 32 of them: the value is below 2^(s+32)), which are then cleared.
    fn take_high(&mut self, s: usize) -> u32 {
        let (limb, bit) = (s / 32, s % 32);
        let lo = self.0.get(limb).copied().unwrap_or(0) as u64;
        let hi = self.0.get(limb + 1).copied().unwrap_or(0) as u64;
        let v = (hi << 32 | lo) >> bit;
        self.0.truncate(limb + 1);
        if let Some(l) = self.0.get_mut(limb) {
            *l &= ((1u64 << bit) - 1) as u32;
        }
        v as u32
    }
}

/// Significant digits as they are produced, most significant first.
struct Digits {
    /// Values 0-9, at most [`DIGITS`] of them, the first non-zero.
    digits: Vec<u8>,
    /// The decimal point's position: |x| = 0.d1d2... x 10^point.
    point: i32,
    /// Whether a non-zero digit was dropped after the ones kept.
    sticky: bool,
}

impl Digits {
    fn push(&mut self, d: u8, integral: bool) {
        if self.digits.is_empty() && d == 0 {
            if !integral {
                self.point -= 1;
            }
            return;
        }
        if integral {
            self.point += 1;
        }
        if self.digits.len() < DIGITS {
            self.digits.push(d);
        } else {
            self.sticky |= d != 0;
        }
    }
}

/// The first [`DIGITS`] significant decimal digits of a finite, non-zero |x|, exactly.
fn exact_digits(x: f64) -> Digits {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, e) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let mut out = Digits { digits: Vec::with_capacity(DIGITS), point: 0, sticky: false };
    let shift = if e < 0 { -e as usize } else { 0 };
    // The integer part in chunks of nine digits, least significant first: m << e, or m >> -e.
    let mut chunks = Vec::new();
    if e >= 0 {
        let mut int = Big(vec![m as u32, (m >> 32) as u32]);
        for _ in 0..e / 32 {
            int.0.insert(0, 0);
        }
        for _ in 0..e % 32 {
            int.mul_small(2);
        }
        while !int.is_zero() {
            chunks.push(int.div_small(1_000_000_000));
        }
    } else if shift < 64 {
        let mut v = m >> shift;
        while v > 0 {
            chunks.push((v % 1_000_000_000) as u32);
            v /= 1_000_000_000;
        }
    }
    for chunk in chunks.iter().rev() {
        for i in (0..9).rev() {
            out.push(((chunk / 10u32.pow(i)) % 10) as u8, true);
        }
    }
    // The fraction, (m mod 2^shift) / 2^shift, a digit at a time.
    if shift > 0 {
        let f = if shift < 64 { m & ((1u64 << shift) - 1) } else { m };
        let mut frac = Big(vec![f as u32, (f >> 32) as u32]);
        while !frac.is_zero() {
            if out.digits.len() >= DIGITS {
                out.sticky = true;
                break;
            }
            frac.mul_small(10);
            let d = frac.take_high(shift);
            out.push(d as u8, false);
        }
    }
    out
}

/// `digits` rounded to `p` significant digits (half to even on an exact tie), trailing zeros dropped; the
/// point moves when rounding carries out (9.99 -> 10).
fn round_to(digits: &[u8], point: i32, sticky: bool, p: usize) -> (Vec<u8>, i32) {
    let mut out = digits[..p.min(digits.len())].to_vec();
    let mut point = point;
    if p < digits.len() {
        let next = digits[p];
        let rest = sticky || digits[p + 1..].iter().any(|&d| d != 0);
        let up = next > 5 || (next == 5 && (rest || out[p - 1] % 2 == 1));
        if up {
            let mut i = p;
            loop {
                if i == 0 {
                    out.insert(0, 1);
                    out.truncate(p);
                    point += 1;
                    break;
                }
                i -= 1;
                if out[i] == 9 {
                    out[i] = 0;
                } else {
                    out[i] += 1;
                    break;
                }
            }
        }
    }
    while out.len() > 1 && out.last() == Some(&0) {
        out.pop();
    }
    (out, point)
}

/// Lays out digits as JavaScript does (ECMA-262, Number::toString).
fn layout(out: &mut Vec<u8>, negative: bool, digits: &[u8], n: i32) {
    if negative {
        out.push(b'-');
    }
    let k = digits.len() as i32;
    let ascii = |d: &u8| b'0' + d;
    if k <= n && n <= 21 {
        out.extend(digits.iter().map(ascii));
        out.extend((0..n - k).map(|_| b'0'));
    } else if 0 < n && n <= 21 {
        out.extend(digits[..n as usize].iter().map(ascii));
        out.push(b'.');
        out.extend(digits[n as usize..].iter().map(ascii));
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.extend((0..-n).map(|_| b'0'));
        out.extend(digits.iter().map(ascii));
    } else {
        out.push(ascii(&digits[0]));
        if k > 1 {
            out.push(b'.');
            out.extend(digits[1..].iter().map(ascii));
        }
        out.push(b'e');
        out.push(if n - 1 < 0 { b'-' } else { b'+' });
        crate::json::write_int(out, (n - 1).abs() as i64);
    }
}

/// Appends the shortest text that reads back as `x` (a finite double; `-0` for negative zero).
pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let exact = exact_digits(x);
    let start = out.len();
    let write = |out: &mut Vec<u8>, p: usize| {
        let (d, n) = round_to(&exact.digits, exact.point, exact.sticky, p);
        out.truncate(start);
        layout(out, x < 0.0, &d, n);
        let text = unsafe { core::str::from_utf8_unchecked(&out[start..]) };
        text.parse::<f64>() == Ok(x)
    };
    // 17 correctly rounded digits always read back. A length that reads back stays enough as digits are
    // added (each rounding is no farther from x than the one before), so bisection finds the shortest; at a
    // power of two, where the interval that reads back is lopsided, it may find one digit more.
    let (mut lo, mut hi) = (1, 17);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if write(out, mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    write(out, hi);
}
