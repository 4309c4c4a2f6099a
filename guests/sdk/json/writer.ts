// A small, fast JSON writer into a ByteBuffer. Commas are placed automatically; the caller is responsible
// for calling begin/end and key/value in a well-formed order.
//
//   const w = new JsonWriter();
//   w.beginObject(); w.keyString("name", "x"); w.keyNumber("n", 1.5); w.endObject();
//
// Strings are escaped per RFC 8259 exactly as JavaScript's JSON.stringify does: `"` `\` and control characters
// (\b \f \n \r \t, the rest as \u00XX), lone surrogates as \uDXXX; everything else is written as UTF-8.
// Numbers: see formatNumber (round-trips through JSON.parse; non-finite numbers are written null).

import { ByteBuffer } from "../bytes";
import { formatNumber, formatInteger, formatUnsigned } from "./number";

// @ts-ignore: decorator
@lazy const HEX: usize = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

// For each byte below 0x80: 0 = copy, 1 = \u00XX, or the character after the backslash.
// @ts-ignore: decorator
@lazy const ESCAPE: usize = memory.data<u8>([
  1, 1, 1, 1, 1, 1, 1, 1, 0x62, 0x74, 0x6e, 1, 0x66, 0x72, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  0, 0, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x5c, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

export class JsonWriter {
  /** The output. */
  buf: ByteBuffer;
  private comma: bool = false;

  /** `headroom`: bytes kept free before the output, so a response frame header can be put there (see Response). */
  constructor(capacity: i32 = 1024, headroom: i32 = 64) {
    this.buf = new ByteBuffer(capacity, headroom);
  }

  // @ts-ignore: decorator
  @inline private sep(): void {
    if (this.comma) this.buf.byte(0x2c);
    this.comma = true;
  }

  beginObject(): void {
    this.sep();
    this.buf.byte(0x7b);
    this.comma = false;
  }

  endObject(): void {
    this.buf.byte(0x7d);
    this.comma = true;
  }

  beginArray(): void {
    this.sep();
    this.buf.byte(0x5b);
    this.comma = false;
  }

  endArray(): void {
    this.buf.byte(0x5d);
    this.comma = true;
  }

  /** An object key (the value must follow). */
  key(name: string): void {
    this.sep();
    writeStringUtf16(this.buf, name);
    this.buf.byte(0x3a);
    this.comma = false;
  }

  /** An object key given as UTF-8 bytes. */
  keyBytes(ptr: usize, len: i32): void {
    this.sep();
    writeStringUtf8(this.buf, ptr, len);
    this.buf.byte(0x3a);
    this.comma = false;
  }

  string(s: string): void {
    this.sep();
    writeStringUtf16(this.buf, s);
  }

  /** A string given as UTF-8 bytes (WTF-8 lone surrogates are escaped as \uDXXX). */
  stringBytes(ptr: usize, len: i32): void {
    this.sep();
    writeStringUtf8(this.buf, ptr, len);
  }

  number(x: f64): void {
    this.sep();
    this.buf.ensure(32);
    this.buf.len += formatNumber(this.buf.ptr + <usize>this.buf.len, x);
  }

  integer(x: i64): void {
    this.sep();
    this.buf.ensure(24);
    this.buf.len += formatInteger(this.buf.ptr + <usize>this.buf.len, x);
  }

  unsigned(x: u64): void {
    this.sep();
    this.buf.ensure(24);
    this.buf.len += formatUnsigned(this.buf.ptr + <usize>this.buf.len, x);
  }

  boolean(b: bool): void {
    this.sep();
    if (b) this.buf.ascii("true");
    else this.buf.ascii("false");
  }

  nullValue(): void {
    this.sep();
    this.buf.ascii("null");
  }

  /** Text that is already valid JSON for one value. */
  raw(json: string): void {
    this.sep();
    this.buf.utf8(json);
  }

  keyString(k: string, v: string): void {
    this.key(k);
    this.string(v);
  }

  keyNumber(k: string, v: f64): void {
    this.key(k);
    this.number(v);
  }

  keyInt(k: string, v: i64): void {
    this.key(k);
    this.integer(v);
  }

  keyUint(k: string, v: u64): void {
    this.key(k);
    this.unsigned(v);
  }

  keyBool(k: string, v: bool): void {
    this.key(k);
    this.boolean(v);
  }

  keyNull(k: string): void {
    this.key(k);
    this.nullValue();
  }

  /** The output so far as a string. */
  toString(): string {
    return this.buf.toString();
  }
}

// @ts-ignore: decorator
@inline function escapeUnit(buf: ByteBuffer, c: u32): void {
  buf.ensure(6);
  const p = buf.ptr + <usize>buf.len;
  store<u16>(p, 0x755c); // "\u"
  store<u8>(p, load<u8>(HEX + <usize>((c >> 12) & 15)), 2);
  store<u8>(p, load<u8>(HEX + <usize>((c >> 8) & 15)), 3);
  store<u8>(p, load<u8>(HEX + <usize>((c >> 4) & 15)), 4);
  store<u8>(p, load<u8>(HEX + <usize>(c & 15)), 5);
  buf.len += 6;
}

// @ts-ignore: decorator
@inline function escapeAscii(buf: ByteBuffer, c: u32): void {
  const e = <u32>load<u8>(ESCAPE + <usize>c);
  if (e == 1) {
    escapeUnit(buf, c);
  } else {
    buf.ensure(2);
    store<u8>(buf.ptr + <usize>buf.len, 0x5c);
    store<u8>(buf.ptr + <usize>buf.len, <u8>e, 1);
    buf.len += 2;
  }
}

/** Writes a JSON string for UTF-8 (or WTF-8) bytes. */
export function writeStringUtf8(buf: ByteBuffer, ptr: usize, len: i32): void {
  buf.ensure(len + 2);
  buf.byte(0x22);
  const end = ptr + <usize>len;
  let run = ptr; // start of the bytes not yet copied
  let p = ptr;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c < 0x80) {
      if (load<u8>(ESCAPE + <usize>c) == 0) {
        p++;
        continue;
      }
      buf.bytes(run, <i32>(p - run));
      escapeAscii(buf, c);
      p++;
      run = p;
    } else if (c == 0xed && p + 2 < end && <u32>load<u8>(p + 1) >= 0xa0) {
      // WTF-8 encoded surrogate: escape it like JSON.stringify does for a lone surrogate.
      buf.bytes(run, <i32>(p - run));
      const unit = 0xd000 | ((<u32>load<u8>(p + 1) & 0x3f) << 6) | (<u32>load<u8>(p + 2) & 0x3f);
      escapeUnit(buf, unit);
      p += 3;
      run = p;
    } else {
      p++;
    }
  }
  buf.bytes(run, <i32>(end - run));
  buf.byte(0x22);
}

/** Writes a JSON string for an AssemblyScript (UTF-16) string. */
export function writeStringUtf16(buf: ByteBuffer, s: string): void {
  const n = s.length;
  const src = changetype<usize>(s);
  // Fast path: ASCII that needs no escapes (keys, codes, most messages).
  buf.ensure(n + 2);
  const dst = buf.ptr + <usize>buf.len;
  let i = 0;
  for (; i < n; i++) {
    const c = <u32>load<u16>(src + (<usize>i << 1));
    if (c >= 0x80 || load<u8>(ESCAPE + <usize>c) != 0) break;
    store<u8>(dst + 1 + <usize>i, <u8>c);
  }
  if (i == n) {
    store<u8>(dst, 0x22);
    store<u8>(dst + 1 + <usize>n, 0x22);
    buf.len += n + 2;
    return;
  }
  // General case: encode as WTF-8 (lone surrogates kept), then escape like UTF-8 bytes.
  const bytes = String.UTF8.byteLength(s, false);
  const tmp = heap.alloc(<usize>bytes);
  String.UTF8.encodeUnsafe(src, n, tmp, false, String.UTF8.ErrorMode.WTF8);
  writeStringUtf8(buf, tmp, bytes);
  heap.free(tmp);
}
