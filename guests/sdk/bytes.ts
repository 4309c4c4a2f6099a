// Byte helpers over raw linear memory: a growable buffer, UTF-8 encoding of AssemblyScript strings, and
// comparisons that need no allocation.

/** A growable byte buffer in linear memory. `headroom` bytes are kept free before the data (see Response). */
export class ByteBuffer {
  /** Start of the data. */
  ptr: usize = 0;
  /** Number of bytes written. */
  len: i32 = 0;
  /** Capacity after `ptr`. */
  cap: i32 = 0;
  /** Start of the allocation: `ptr - base` bytes of headroom precede the data. */
  base: usize = 0;

  constructor(capacity: i32 = 256, headroom: i32 = 0) {
    if (capacity < 16) capacity = 16;
    this.base = heap.alloc(<usize>(capacity + headroom));
    this.ptr = this.base + <usize>headroom;
    this.cap = capacity;
  }

  /** Drops the contents, keeping the memory. */
  @inline reset(): void {
    this.len = 0;
  }

  /** Makes room for `n` more bytes. */
  @inline ensure(n: i32): void {
    if (this.len + n > this.cap) this.grow(n);
  }

  private grow(n: i32): void {
    let cap = this.cap;
    const need = this.len + n;
    if (need < 0) unreachable();
    while (cap < need) cap = cap <= 0x20000000 ? cap << 1 : need;
    const head = this.ptr - this.base;
    this.base = heap.realloc(this.base, head + <usize>cap);
    this.ptr = this.base + head;
    this.cap = cap;
  }

  @inline byte(b: u32): void {
    this.ensure(1);
    store<u8>(this.ptr + <usize>this.len, <u8>b);
    this.len += 1;
  }

  /** Appends `n` bytes from `src`. */
  bytes(src: usize, n: i32): void {
    this.ensure(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  /** Appends the bytes of a Uint8Array. */
  @inline array(a: Uint8Array): void {
    this.bytes(a.dataStart, a.length);
  }

  /** Appends a string that is known to be ASCII (each UTF-16 unit is written as one byte). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const src = changetype<usize>(s);
    const dst = this.ptr + <usize>this.len;
    for (let i = 0; i < n; i++) store<u8>(dst + <usize>i, <u8>load<u16>(src + (<usize>i << 1)));
    this.len += n;
  }

  /** Appends a string as UTF-8 (lone surrogates become U+FFFD). */
  utf8(s: string): void {
    const n = String.UTF8.byteLength(s, false);
    this.ensure(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.ptr + <usize>this.len, false, String.UTF8.ErrorMode.REPLACE);
    this.len += n;
  }

  @inline u16be(v: u32): void {
    this.ensure(2);
    store<u16>(this.ptr + <usize>this.len, bswap<u16>(<u16>v));
    this.len += 2;
  }

  @inline u32be(v: u32): void {
    this.ensure(4);
    store<u32>(this.ptr + <usize>this.len, bswap<u32>(v));
    this.len += 4;
  }

  @inline u16le(v: u32): void {
    this.ensure(2);
    store<u16>(this.ptr + <usize>this.len, <u16>v);
    this.len += 2;
  }

  @inline u32le(v: u32): void {
    this.ensure(4);
    store<u32>(this.ptr + <usize>this.len, v);
    this.len += 4;
  }

  @inline f64le(v: f64): void {
    this.ensure(8);
    store<f64>(this.ptr + <usize>this.len, v);
    this.len += 8;
  }

  /** Unsigned LEB128. */
  varint(v: u64): void {
    this.ensure(10);
    let p = this.ptr + <usize>this.len;
    while (v >= 0x80) {
      store<u8>(p++, <u8>(v | 0x80));
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.len = <i32>(p - this.ptr);
  }

  /** A copy of the contents. */
  toArray(): Uint8Array {
    const a = new Uint8Array(this.len);
    memory.copy(a.dataStart, this.ptr, <usize>this.len);
    return a;
  }

  /** The contents decoded as UTF-8. */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len, false);
  }
}

/** Reads unsigned LEB128 values from memory; `pos` advances. `ok` turns false on a truncated or overlong value. */
export class VarintReader {
  pos: usize;
  end: usize;
  ok: bool = true;

  constructor(ptr: usize, len: i32) {
    this.pos = ptr;
    this.end = ptr + <usize>len;
  }

  u64(): u64 {
    let result: u64 = 0;
    let shift: u64 = 0;
    while (true) {
      if (this.pos >= this.end || shift > 63) {
        this.ok = false;
        return 0;
      }
      const b = <u64>load<u8>(this.pos++);
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }

  u8(): u32 {
    if (this.pos >= this.end) {
      this.ok = false;
      return 0;
    }
    return <u32>load<u8>(this.pos++);
  }

  u16be(): u32 {
    if (this.pos + 2 > this.end) {
      this.ok = false;
      return 0;
    }
    const v = <u32>bswap<u16>(load<u16>(this.pos));
    this.pos += 2;
    return v;
  }

  u16le(): u32 {
    if (this.pos + 2 > this.end) {
      this.ok = false;
      return 0;
    }
    const v = <u32>load<u16>(this.pos);
    this.pos += 2;
    return v;
  }

  f64le(): f64 {
    if (this.pos + 8 > this.end) {
      this.ok = false;
      return 0;
    }
    const v = load<f64>(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips `n` bytes and returns where they start. */
  skip(n: i32): usize {
    const p = this.pos;
    if (n < 0 || this.pos + <usize>n > this.end) {
      this.ok = false;
      return p;
    }
    this.pos += <usize>n;
    return p;
  }
}

/** Zigzag-encodes a signed value for varint storage. */
// @ts-ignore: decorator
@inline export function zigzag(v: i64): u64 {
  return <u64>((v << 1) ^ (v >> 63));
}

/** Inverse of zigzag. */
// @ts-ignore: decorator
@inline export function unzigzag(v: u64): i64 {
  return <i64>(v >> 1) ^ -<i64>(v & 1);
}

/** Whether the bytes at [ptr, ptr+len) equal the ASCII string `s`, without allocating. */
export function bytesEqualAscii(ptr: usize, len: i32, s: string): bool {
  if (len != s.length) return false;
  const sp = changetype<usize>(s);
  for (let i = 0; i < len; i++) {
    if (<u32>load<u8>(ptr + <usize>i) != <u32>load<u16>(sp + (<usize>i << 1))) return false;
  }
  return true;
}

/** Whether the bytes at [ptr, ptr+len) start with the ASCII string `s`. */
export function bytesStartWithAscii(ptr: usize, len: i32, s: string): bool {
  const n = s.length;
  if (len < n) return false;
  return bytesEqualAscii(ptr, n, s);
}

/** Byte-order comparison of two byte ranges: negative, zero or positive. */
export function compareBytes(a: usize, alen: i32, b: usize, blen: i32): i32 {
  const n = alen < blen ? alen : blen;
  const c = memory.compare(a, b, <usize>n);
  if (c != 0) return c;
  return alen - blen;
}

/** A string's UTF-8 bytes (lone surrogates become U+FFFD). */
export function utf8Bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}

/** Decodes UTF-8 bytes (invalid sequences become U+FFFD). */
export function utf8String(ptr: usize, len: i32): string {
  return String.UTF8.decodeUnsafe(ptr, <usize>len, false);
}

/**
 * Parses a non-negative decimal integer (ASCII digits only, no sign, at most 2^53 - 1) from bytes; -1 if the
 * text is not one.
 */
export function parseUintBytes(ptr: usize, len: i32): i64 {
  if (len < 1 || len > 16) return -1;
  let v: i64 = 0;
  for (let i = 0; i < len; i++) {
    const d = <i32>load<u8>(ptr + <usize>i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + <i64>d;
  }
  return v <= 9007199254740991 ? v : -1;
}

/** As parseUintBytes, for a string. */
export function parseUint(s: string): i64 {
  const n = s.length;
  if (n < 1 || n > 16) return -1;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i32>s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + <i64>d;
  }
  return v <= 9007199254740991 ? v : -1;
}
