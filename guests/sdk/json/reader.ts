// A strict, streaming (pull) JSON reader over UTF-8 bytes in linear memory, for untrusted input.
//
// It accepts exactly RFC 8259 JSON text, as JSON.parse does: one value with optional whitespace (space, tab,
// LF, CR) around it; no BOM, no comments, no trailing commas, no leading zeros, no NaN/Infinity, no raw
// control characters in strings, and only well-formed UTF-8. Nesting deeper than `maxDepth` is an error, so
// the reader's memory and time stay linear in the input. It does not itself reject duplicate keys (see
// JsonValue, which does): a streaming consumer sees every key and decides.
//
//   const r = new JsonReader(ptr, len);
//   let t = r.next();            // Token.BeginObject
//   t = r.next();                // Token.Key: r.strPtr/r.strLen hold the decoded name
//   t = r.next();                // Token.Number: r.number() is the value
//   ...
//   r.next() == Token.End        // only whitespace followed the value
//
// Decoded strings are UTF-8; a \uXXXX escape of a lone surrogate is decoded to its 3-byte WTF-8 form (there is
// no UTF-8 for it) so that nothing is lost: JsonWriter.stringBytes writes it back as the same escape. A
// decoded string either points into the input (when it had no escapes) or into a scratch buffer that the next
// string overwrites: copy it if you need it later.

import { ByteBuffer } from "../bytes";
import { NumberScan, scanNumber, scanToF64 } from "./number";

export enum Token {
  Error = 0,
  End = 1,
  BeginObject = 2,
  EndObject = 3,
  BeginArray = 4,
  EndArray = 5,
  Key = 6,
  String = 7,
  Number = 8,
  True = 9,
  False = 10,
  Null = 11,
}

/** The default nesting limit. */
export const JSON_MAX_DEPTH: i32 = 64;

const S_VALUE: i32 = 0; // a value is expected
const S_ARRAY_FIRST: i32 = 1; // after '[': a value or ']'
const S_OBJECT_FIRST: i32 = 2; // after '{': a key or '}'
const S_AFTER: i32 = 3; // after a value inside a container: ',' or the closing bracket
const S_DONE: i32 = 4; // after the top-level value
const S_ERROR: i32 = 5;

const OBJ: u8 = 1;
const ARR: u8 = 2;

// Character classes for bytes 0-255 inside strings: 0 = plain, 1 = quote, 2 = backslash, 3 = control,
// 4 = non-ASCII (needs UTF-8 validation).
// @ts-ignore: decorator
@lazy const STRING_CLASS: usize = memory.data<u8>([
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
]);

export class JsonReader {
  private start: usize;
  private pos: usize;
  private end: usize;
  private state: i32 = S_VALUE;
  /** Current nesting depth (0 at the top level). */
  depth: i32 = 0;
  maxDepth: i32;
  private stack: usize;
  private decode: bool = true;

  /** The decoded bytes of the last Key or String token. */
  strPtr: usize = 0;
  strLen: i32 = 0;
  /** Whether the last string had escapes (then strPtr points into the scratch buffer, not the input). */
  strEscaped: bool = false;
  private scratch: ByteBuffer;

  /** The last Number token. */
  num: NumberScan = new NumberScan();
  /** Start of the last token in the input (for error messages and for copying raw values). */
  tokenStart: usize = 0;

  /** After Token.Error: what was wrong and where (byte offset from the start of the input). */
  error: string = "";
  errorOffset: i32 = -1;

  constructor(ptr: usize, len: i32, maxDepth: i32 = JSON_MAX_DEPTH) {
    this.start = ptr;
    this.pos = ptr;
    this.end = ptr + <usize>len;
    this.maxDepth = maxDepth;
    this.stack = heap.alloc(<usize>(maxDepth + 1));
    this.scratch = new ByteBuffer(64);
  }

  /** Starts over on a new input (reusing the buffers). */
  reset(ptr: usize, len: i32): void {
    this.start = ptr;
    this.pos = ptr;
    this.end = ptr + <usize>len;
    this.state = S_VALUE;
    this.depth = 0;
    this.error = "";
    this.errorOffset = -1;
    this.decode = true;
  }

  /** The value of the last Number token: the double JSON.parse gives. */
  number(): f64 {
    return scanToF64(this.num);
  }

  /** The last Key/String token as an AssemblyScript string. */
  string(): string {
    return wtf8ToString(this.strPtr, this.strLen);
  }

  /** Whether the last Key/String equals the ASCII text `s`. */
  stringIs(s: string): bool {
    const n = this.strLen;
    if (n != s.length) return false;
    const sp = changetype<usize>(s);
    for (let i = 0; i < n; i++) {
      if (<u32>load<u8>(this.strPtr + <usize>i) != <u32>load<u16>(sp + (<usize>i << 1))) return false;
    }
    return true;
  }

  /** Offset of the last token from the start of the input. */
  get tokenOffset(): i32 {
    return <i32>(this.tokenStart - this.start);
  }

  /** Current offset from the start of the input. */
  get offset(): i32 {
    return <i32>(this.pos - this.start);
  }

  private fail(message: string, at: usize): Token {
    if (this.state != S_ERROR) {
      this.state = S_ERROR;
      this.error = message;
      this.errorOffset = <i32>(at - this.start);
    }
    return Token.Error;
  }

  // @ts-ignore: decorator
  @inline private skipWhitespace(): void {
    let p = this.pos;
    const end = this.end;
    while (p < end) {
      const c = load<u8>(p);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      p++;
    }
    this.pos = p;
  }

  /** The next token. After Error or End it keeps returning the same. */
  next(): Token {
    const state = this.state;
    if (state == S_ERROR) return Token.Error;
    this.skipWhitespace();
    const p = this.pos;
    this.tokenStart = p;
    if (state == S_DONE) {
      if (p < this.end) return this.fail("unexpected data after the JSON value", p);
      return Token.End;
    }
    if (p >= this.end) {
      return this.fail(this.depth == 0 && state == S_VALUE ? "empty input" : "unexpected end of input", p);
    }
    const c = <u32>load<u8>(p);
    if (state == S_AFTER) {
      const container = load<u8>(this.stack + <usize>(this.depth - 1));
      if (c == 0x2c) {
        this.pos = p + 1;
        this.skipWhitespace();
        this.tokenStart = this.pos;
        if (this.pos >= this.end) return this.fail("unexpected end of input", this.pos);
        if (container == OBJ) return this.readKey(<u32>load<u8>(this.pos));
        return this.readValue(<u32>load<u8>(this.pos));
      }
      if (c == 0x7d && container == OBJ) {
        this.pos = p + 1;
        this.pop();
        return Token.EndObject;
      }
      if (c == 0x5d && container == ARR) {
        this.pos = p + 1;
        this.pop();
        return Token.EndArray;
      }
      return this.fail(container == OBJ ? "expected ',' or '}'" : "expected ',' or ']'", p);
    }
    if (state == S_OBJECT_FIRST) {
      if (c == 0x7d) {
        this.pos = p + 1;
        this.pop();
        return Token.EndObject;
      }
      return this.readKey(c);
    }
    if (state == S_ARRAY_FIRST && c == 0x5d) {
      this.pos = p + 1;
      this.pop();
      return Token.EndArray;
    }
    return this.readValue(c);
  }

  /**
   * Skips the rest of the value whose first token was just returned (a no-op for scalars). Returns false on a
   * syntax error.
   */
  skipValue(last: Token): bool {
    if (last != Token.BeginObject && last != Token.BeginArray) return last != Token.Error;
    const target = this.depth - 1;
    const saved = this.decode;
    this.decode = false;
    while (true) {
      const t = this.next();
      if (t == Token.Error) {
        this.decode = saved;
        return false;
      }
      if ((t == Token.EndObject || t == Token.EndArray) && this.depth == target) break;
    }
    this.decode = saved;
    return true;
  }

  /** Checks the rest of the input without decoding anything; true if it is all valid. */
  validateRest(): bool {
    const saved = this.decode;
    this.decode = false;
    while (true) {
      const t = this.next();
      if (t == Token.Error) {
        this.decode = saved;
        return false;
      }
      if (t == Token.End) break;
    }
    this.decode = saved;
    return true;
  }

  // @ts-ignore: decorator
  @inline private pop(): void {
    this.depth--;
    this.state = this.depth == 0 ? S_DONE : S_AFTER;
  }

  // @ts-ignore: decorator
  @inline private afterValue(): void {
    this.state = this.depth == 0 ? S_DONE : S_AFTER;
  }

  private push(kind: u8): bool {
    if (this.depth >= this.maxDepth) return false;
    store<u8>(this.stack + <usize>this.depth, kind);
    this.depth++;
    return true;
  }

  private readKey(c: u32): Token {
    if (c != 0x22) return this.fail("expected a string key", this.pos);
    if (!this.readString()) return Token.Error;
    this.skipWhitespace();
    if (this.pos >= this.end) return this.fail("unexpected end of input", this.pos);
    if (load<u8>(this.pos) != 0x3a) return this.fail("expected ':' after key", this.pos);
    this.pos++;
    this.state = S_VALUE;
    return Token.Key;
  }

  private readValue(c: u32): Token {
    const p = this.pos;
    switch (c) {
      case 0x7b: {
        if (!this.push(OBJ)) return this.fail("nesting too deep", p);
        this.pos = p + 1;
        this.state = S_OBJECT_FIRST;
        return Token.BeginObject;
      }
      case 0x5b: {
        if (!this.push(ARR)) return this.fail("nesting too deep", p);
        this.pos = p + 1;
        this.state = S_ARRAY_FIRST;
        return Token.BeginArray;
      }
      case 0x22: {
        if (!this.readString()) return Token.Error;
        this.afterValue();
        return Token.String;
      }
      case 0x74: {
        if (p + 4 <= this.end && load<u32>(p) == 0x65757274) {
          this.pos = p + 4;
          this.afterValue();
          return Token.True;
        }
        return this.fail("invalid literal", p);
      }
      case 0x66: {
        if (p + 5 <= this.end && load<u32>(p + 1) == 0x65736c61) {
          this.pos = p + 5;
          this.afterValue();
          return Token.False;
        }
        return this.fail("invalid literal", p);
      }
      case 0x6e: {
        if (p + 4 <= this.end && load<u32>(p) == 0x6c6c756e) {
          this.pos = p + 4;
          this.afterValue();
          return Token.Null;
        }
        return this.fail("invalid literal", p);
      }
    }
    if (c == 0x2d || c - 0x30 < 10) {
      const q = scanNumber(p, this.end, this.num);
      if (q == 0) return this.fail("invalid number", p);
      this.pos = q;
      this.afterValue();
      return Token.Number;
    }
    return this.fail("unexpected character", p);
  }

  /** Reads a string starting at the opening quote at `pos`. */
  private readString(): bool {
    const end = this.end;
    let p = this.pos + 1;
    const begin = p;
    const cls = STRING_CLASS;
    // Fast scan: plain ASCII and valid UTF-8 until the closing quote or an escape.
    while (true) {
      if (p >= end) {
        this.fail("unterminated string", this.pos);
        return false;
      }
      const c = <u32>load<u8>(p);
      const k = load<u8>(cls + <usize>c);
      if (k == 0) {
        p++;
        continue;
      }
      if (k == 1) {
        this.strPtr = begin;
        this.strLen = <i32>(p - begin);
        this.strEscaped = false;
        this.pos = p + 1;
        return true;
      }
      if (k == 4) {
        const n = utf8SequenceLength(p, end);
        if (n == 0) {
          this.fail("invalid UTF-8", p);
          return false;
        }
        p += <usize>n;
        continue;
      }
      if (k == 3) {
        this.fail("control character in string", p);
        return false;
      }
      break; // backslash
    }
    // Slow path: decode escapes into the scratch buffer.
    const out = this.scratch;
    const decode = this.decode;
    out.reset();
    if (decode) out.bytes(begin, <i32>(p - begin));
    while (true) {
      if (p >= end) {
        this.fail("unterminated string", this.pos);
        return false;
      }
      const c = <u32>load<u8>(p);
      const k = load<u8>(cls + <usize>c);
      if (k == 0) {
        if (decode) out.byte(c);
        p++;
        continue;
      }
      if (k == 1) break;
      if (k == 4) {
        const n = utf8SequenceLength(p, end);
        if (n == 0) {
          this.fail("invalid UTF-8", p);
          return false;
        }
        if (decode) out.bytes(p, n);
        p += <usize>n;
        continue;
      }
      if (k == 3) {
        this.fail("control character in string", p);
        return false;
      }
      // Escape.
      if (p + 1 >= end) {
        this.fail("unterminated string", this.pos);
        return false;
      }
      const e = <u32>load<u8>(p + 1);
      let simple: u32 = 0;
      switch (e) {
        case 0x22: simple = 0x22; break;
        case 0x5c: simple = 0x5c; break;
        case 0x2f: simple = 0x2f; break;
        case 0x62: simple = 0x08; break;
        case 0x66: simple = 0x0c; break;
        case 0x6e: simple = 0x0a; break;
        case 0x72: simple = 0x0d; break;
        case 0x74: simple = 0x09; break;
        case 0x75: simple = 0xffff; break;
        default: {
          this.fail("invalid escape", p);
          return false;
        }
      }
      if (simple != 0xffff) {
        if (decode) out.byte(simple);
        p += 2;
        continue;
      }
      let u = readHex4(p + 2, end);
      if (u < 0) {
        this.fail("invalid \\u escape", p);
        return false;
      }
      p += 6;
      let cp = <u32>u;
      if (cp - 0xd800 < 0x400 && p + 6 <= end && load<u16>(p) == 0x755c) {
        // A high surrogate followed by a \u escape: a pair if that one is a low surrogate.
        const u2 = readHex4(p + 2, end);
        if (u2 >= 0 && <u32>u2 - 0xdc00 < 0x400) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (<u32>u2 - 0xdc00);
          p += 6;
        }
      }
      if (decode) writeCodePoint(out, cp);
    }
    this.strPtr = out.ptr;
    this.strLen = out.len;
    this.strEscaped = true;
    this.pos = p + 1;
    return true;
  }
}

/** Value of 4 hex digits at p, or -1. */
function readHex4(p: usize, end: usize): i32 {
  if (p + 4 > end) return -1;
  let v: i32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <u32>load<u8>(p + i);
    let d: u32;
    if (c - 0x30 < 10) d = c - 0x30;
    else if ((c | 0x20) - 0x61 < 6) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    v = (v << 4) | <i32>d;
  }
  return v;
}

/** Appends a code point (or a lone surrogate, as WTF-8) as UTF-8. */
function writeCodePoint(out: ByteBuffer, cp: u32): void {
  out.ensure(4);
  const p = out.ptr + <usize>out.len;
  if (cp < 0x80) {
    store<u8>(p, <u8>cp);
    out.len += 1;
  } else if (cp < 0x800) {
    store<u8>(p, <u8>(0xc0 | (cp >> 6)));
    store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 1);
    out.len += 2;
  } else if (cp < 0x10000) {
    store<u8>(p, <u8>(0xe0 | (cp >> 12)));
    store<u8>(p, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 2);
    out.len += 3;
  } else {
    store<u8>(p, <u8>(0xf0 | (cp >> 18)));
    store<u8>(p, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
    store<u8>(p, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2);
    store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 3);
    out.len += 4;
  }
}

/** Length of the well-formed UTF-8 sequence starting with a non-ASCII byte at p, or 0 if it is malformed. */
export function utf8SequenceLength(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) {
    if (p + 2 > end) return 0;
    return (<u32>load<u8>(p + 1) & 0xc0) == 0x80 ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (p + 3 > end) return 0;
    const b1 = <u32>load<u8>(p + 1);
    const b2 = <u32>load<u8>(p + 2);
    if ((b2 & 0xc0) != 0x80) return 0;
    if (b0 == 0xe0) return b1 - 0xa0 < 0x20 ? 3 : 0; // no overlong forms
    if (b0 == 0xed) return b1 - 0x80 < 0x20 ? 3 : 0; // no surrogates
    return (b1 & 0xc0) == 0x80 ? 3 : 0;
  }
  if (b0 < 0xf5) {
    if (p + 4 > end) return 0;
    const b1 = <u32>load<u8>(p + 1);
    if ((<u32>load<u8>(p + 2) & 0xc0) != 0x80 || (<u32>load<u8>(p + 3) & 0xc0) != 0x80) return 0;
    if (b0 == 0xf0) return b1 - 0x90 < 0x30 ? 4 : 0; // no overlong forms
    if (b0 == 0xf4) return b1 - 0x80 < 0x10 ? 4 : 0; // nothing above U+10FFFF
    return (b1 & 0xc0) == 0x80 ? 4 : 0;
  }
  return 0;
}

/** Whether [ptr, ptr+len) is well-formed UTF-8. */
export function isValidUtf8(ptr: usize, len: i32): bool {
  const end = ptr + <usize>len;
  let p = ptr;
  while (p < end) {
    if (load<u8>(p) < 0x80) {
      p++;
      continue;
    }
    const n = utf8SequenceLength(p, end);
    if (n == 0) return false;
    p += <usize>n;
  }
  return true;
}

/** Decodes UTF-8 that may contain WTF-8 lone surrogates (as the reader produces) into a UTF-16 string. */
export function wtf8ToString(ptr: usize, len: i32): string {
  const end = ptr + <usize>len;
  // Count UTF-16 units first.
  let units: i32 = 0;
  let p = ptr;
  while (p < end) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) p += 1;
    else if (b < 0xe0) p += 2;
    else if (b < 0xf0) p += 3;
    else {
      p += 4;
      units++;
    }
    units++;
  }
  const s = changetype<string>(__new(<usize>units << 1, idof<string>()));
  let q = changetype<usize>(s);
  p = ptr;
  while (p < end) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) {
      store<u16>(q, <u16>b);
      p += 1;
    } else if (b < 0xe0) {
      store<u16>(q, <u16>(((b & 0x1f) << 6) | (<u32>load<u8>(p + 1) & 0x3f)));
      p += 2;
    } else if (b < 0xf0) {
      store<u16>(q, <u16>(((b & 0x0f) << 12) | ((<u32>load<u8>(p + 1) & 0x3f) << 6) | (<u32>load<u8>(p + 2) & 0x3f)));
      p += 3;
    } else {
      const cp = ((b & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3f) << 12) |
        ((<u32>load<u8>(p + 2) & 0x3f) << 6) | (<u32>load<u8>(p + 3) & 0x3f);
      const v = cp - 0x10000;
      store<u16>(q, <u16>(0xd800 | (v >> 10)));
      q += 2;
      store<u16>(q, <u16>(0xdc00 | (v & 0x3ff)));
      p += 4;
    }
    q += 2;
  }
  return s;
}
