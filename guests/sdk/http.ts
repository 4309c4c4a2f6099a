// The `ea_on_http` envelope (docs/abi.md) as a Request, and a Response encoded into the response frame.
//
//   export function ea_on_http(ptr: i32, len: i32): i32 {
//     const req = Request.read(ptr, len);
//     return Response.text(200, "hello " + req.subject).frame();
//   }
//
// Text fields are available both as strings (decoded on first use) and as raw bytes (`pathPtr`/`pathLen`...)
// for handlers that want to avoid allocations.

import { ByteBuffer, bytesEqualAscii, bytesStartWithAscii, utf8String } from "./bytes";
import { JsonWriter } from "./json/writer";

export enum Method {
  Other = 0,
  GET = 1,
  POST = 2,
  PUT = 3,
  DELETE = 4,
  HEAD = 5,
}

/** Who the host authenticated the request as (the token's kind). */
export enum Principal {
  Anonymous = 0,
  Device = 1,
  Gateway = 2,
  Read = 3,
  Admin = 4,
}

export class Request {
  method: Method = Method.Other;
  principal: Principal = Principal.Anonymous;
  pathPtr: usize = 0;
  pathLen: i32 = 0;
  queryPtr: usize = 0;
  queryLen: i32 = 0;
  contentTypePtr: usize = 0;
  contentTypeLen: i32 = 0;
  subjectPtr: usize = 0;
  subjectLen: i32 = 0;
  bodyPtr: usize = 0;
  bodyLen: i32 = 0;

  /** Decodes the envelope at [ptr, ptr+len). A malformed envelope (a host bug) aborts the call. */
  static read(ptr: i32, len: i32): Request {
    const req = new Request();
    const p = <usize>ptr;
    const end = p + <usize>len;
    if (len < 4 + 2 * 4 + 4 || load<u8>(p) != 1) abort("bad http envelope", null, 0, 0);
    req.method = <Method>load<u8>(p, 1);
    req.principal = <Principal>load<u8>(p, 2);
    let q = p + 4;
    for (let field = 0; field < 4; field++) {
      if (q + 2 > end) abort("bad http envelope", null, 0, 0);
      const n = <i32>load<u16>(q);
      q += 2;
      if (q + <usize>n > end) abort("bad http envelope", null, 0, 0);
      if (field == 0) {
        req.pathPtr = q;
        req.pathLen = n;
      } else if (field == 1) {
        req.queryPtr = q;
        req.queryLen = n;
      } else if (field == 2) {
        req.contentTypePtr = q;
        req.contentTypeLen = n;
      } else {
        req.subjectPtr = q;
        req.subjectLen = n;
      }
      q += <usize>n;
    }
    if (q + 4 > end) abort("bad http envelope", null, 0, 0);
    const bodyLen = load<u32>(q);
    q += 4;
    if (<u64>q + <u64>bodyLen != <u64>end) abort("bad http envelope", null, 0, 0);
    req.bodyPtr = q;
    req.bodyLen = <i32>bodyLen;
    return req;
  }

  get path(): string {
    return utf8String(this.pathPtr, this.pathLen);
  }

  get query(): string {
    return utf8String(this.queryPtr, this.queryLen);
  }

  /** Media type only, lower case, without parameters (e.g. "application/json"); "" when absent. */
  get contentType(): string {
    return utf8String(this.contentTypePtr, this.contentTypeLen);
  }

  /** The token's subject: for a device token, its device id. */
  get subject(): string {
    return utf8String(this.subjectPtr, this.subjectLen);
  }

  /** A copy of the body. */
  get body(): Uint8Array {
    const b = new Uint8Array(this.bodyLen);
    memory.copy(b.dataStart, this.bodyPtr, <usize>this.bodyLen);
    return b;
  }

  /** The body decoded as UTF-8. */
  get bodyText(): string {
    return utf8String(this.bodyPtr, this.bodyLen);
  }

  get methodName(): string {
    switch (this.method) {
      case Method.GET: return "GET";
      case Method.POST: return "POST";
      case Method.PUT: return "PUT";
      case Method.DELETE: return "DELETE";
      case Method.HEAD: return "HEAD";
    }
    return "OTHER";
  }

  /** Whether the path is exactly `s` (ASCII), without allocating. */
  pathIs(s: string): bool {
    return bytesEqualAscii(this.pathPtr, this.pathLen, s);
  }

  /** Whether the path starts with `s` (ASCII). */
  pathStartsWith(s: string): bool {
    return bytesStartWithAscii(this.pathPtr, this.pathLen, s);
  }

  /** Whether the content type is exactly `s`. */
  contentTypeIs(s: string): bool {
    return bytesEqualAscii(this.contentTypePtr, this.contentTypeLen, s);
  }

  /** The path after `prefix`, percent-decoded (null if the path does not start with it). */
  pathAfter(prefix: string): string | null {
    if (!this.pathStartsWith(prefix)) return null;
    const n = prefix.length;
    return percentDecode(this.pathPtr + <usize>n, this.pathLen - n, false);
  }

  /** The query parameter `name`, percent-decoded ('+' is a space); null if absent. The first one wins. */
  param(name: string): string | null {
    const q = new QueryReader(this.queryPtr, this.queryLen);
    while (q.next()) {
      if (bytesEqualAscii(q.namePtr, q.nameLen, name)) return percentDecode(q.valuePtr, q.valueLen, true);
    }
    return null;
  }
}

/** Iterates over `name=value` pairs of a raw query string (bytes, not decoded). */
export class QueryReader {
  private pos: usize;
  private end: usize;
  namePtr: usize = 0;
  nameLen: i32 = 0;
  valuePtr: usize = 0;
  valueLen: i32 = 0;
  /** Whether the pair had an '='. */
  hasValue: bool = false;

  constructor(ptr: usize, len: i32) {
    this.pos = ptr;
    this.end = ptr + <usize>len;
  }

  /** Moves to the next non-empty pair; false at the end. */
  next(): bool {
    while (this.pos < this.end) {
      const start = this.pos;
      let p = start;
      while (p < this.end && load<u8>(p) != 0x26) p++;
      this.pos = p < this.end ? p + 1 : p;
      if (p == start) continue; // empty pair ("&&")
      let eq = start;
      while (eq < p && load<u8>(eq) != 0x3d) eq++;
      this.namePtr = start;
      this.nameLen = <i32>(eq - start);
      this.hasValue = eq < p;
      this.valuePtr = eq < p ? eq + 1 : p;
      this.valueLen = <i32>(p - this.valuePtr);
      return true;
    }
    return false;
  }
}

// @ts-ignore: decorator
@inline function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

/** Percent-decodes bytes into a string (invalid escapes are kept as they are; invalid UTF-8 becomes U+FFFD). */
export function percentDecode(ptr: usize, len: i32, plusIsSpace: bool): string {
  const buf = new ByteBuffer(len);
  percentDecodeInto(buf, ptr, len, plusIsSpace);
  return utf8String(buf.ptr, buf.len);
}

/** Percent-decodes bytes into `out` (appending). */
export function percentDecodeInto(out: ByteBuffer, ptr: usize, len: i32, plusIsSpace: bool): void {
  const end = ptr + <usize>len;
  let p = ptr;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == 0x25 && p + 2 < end) {
      const h = hexValue(<u32>load<u8>(p + 1));
      const l = hexValue(<u32>load<u8>(p + 2));
      if (h >= 0 && l >= 0) {
        out.byte(<u32>((h << 4) | l));
        p += 3;
        continue;
      }
    }
    out.byte(plusIsSpace && c == 0x2b ? 0x20 : c);
    p++;
  }
}

export class Response {
  status: i32;
  contentType: string;
  private bodyPtr: usize = 0;
  private bodyLen: i32 = 0;
  // When the body is in a buffer with headroom, the frame header is written in place (no copy).
  private buffer: ByteBuffer | null = null;

  constructor(status: i32, contentType: string) {
    this.status = status;
    this.contentType = contentType;
  }

  /** A body of raw bytes. */
  static bytes(status: i32, contentType: string, body: Uint8Array): Response {
    const r = new Response(status, contentType);
    r.bodyPtr = body.dataStart;
    r.bodyLen = body.length;
    return r;
  }

  /** A body from memory (not copied until frame()). */
  static raw(status: i32, contentType: string, ptr: usize, len: i32): Response {
    const r = new Response(status, contentType);
    r.bodyPtr = ptr;
    r.bodyLen = len;
    return r;
  }

  /** A text/plain UTF-8 body. */
  static text(status: i32, text: string): Response {
    const b = new ByteBuffer(String.UTF8.byteLength(text, false), 64);
    b.utf8(text);
    return Response.buffer(status, "text/plain; charset=utf-8", b);
  }

  /** An application/json body from a writer. */
  static json(status: i32, w: JsonWriter): Response {
    return Response.buffer(status, "application/json", w.buf);
  }

  /** A body from a buffer; with enough headroom (64 bytes by default) the frame is built in place. */
  static buffer(status: i32, contentType: string, b: ByteBuffer): Response {
    const r = new Response(status, contentType);
    r.bodyPtr = b.ptr;
    r.bodyLen = b.len;
    r.buffer = b;
    return r;
  }

  /** No body. */
  static empty(status: i32): Response {
    return new Response(status, "");
  }

  /** `{"error":{"code":code,"message":message}}` as application/json. */
  static error(status: i32, code: string, message: string): Response {
    const w = new JsonWriter(64 + message.length);
    w.beginObject();
    w.key("error");
    w.beginObject();
    w.keyString("code", code);
    w.keyString("message", message);
    w.endObject();
    w.endObject();
    return Response.json(status, w);
  }

  /** Encodes the response frame and returns its address: the return value of ea_on_http. */
  frame(): i32 {
    const ct = String.UTF8.encode(this.contentType, false, String.UTF8.ErrorMode.REPLACE);
    const ctLen = ct.byteLength;
    const header = 4 + 2 + 2 + ctLen;
    const total = header + this.bodyLen;
    let start: usize;
    const b = this.buffer;
    if (b != null && b.ptr == this.bodyPtr && b.ptr - b.base >= <usize>header) {
      start = b.ptr - <usize>header;
    } else {
      start = heap.alloc(<usize>total);
      memory.copy(start + <usize>header, this.bodyPtr, <usize>this.bodyLen);
    }
    store<u32>(start, <u32>(total - 4));
    store<u16>(start, <u16>this.status, 4);
    store<u16>(start, <u16>ctLen, 6);
    memory.copy(start + 8, changetype<usize>(ct), <usize>ctLen);
    return <i32>start;
  }
}
