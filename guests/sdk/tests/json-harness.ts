// Test harness for the SDK's JSON code (compiled by test/guests/json.test.ts, not shipped): plain exports that
// the test calls directly, without the host runtime.

import { JsonValue, JsonType } from "../json/value";
import { JsonReader, Token } from "../json/reader";
import { JsonWriter } from "../json/writer";
import { parseNumber } from "../json/number";
import { ByteBuffer } from "../bytes";
export { ea_alloc } from "../abi";

function result(b: ByteBuffer): i32 {
  const out = heap.alloc(<usize>(4 + b.len));
  store<u32>(out, <u32>b.len);
  memory.copy(out + 4, b.ptr, <usize>b.len);
  return <i32>out;
}

function dumpString(b: ByteBuffer, s: string): void {
  b.u32le(<u32>s.length);
  b.bytes(changetype<usize>(s), s.length << 1);
}

function dump(b: ByteBuffer, v: JsonValue): void {
  switch (v.type) {
    case JsonType.Null: b.byte(0); break;
    case JsonType.Bool: b.byte(v.boolValue ? 2 : 1); break;
    case JsonType.Number: b.byte(3); b.f64le(v.num); break;
    case JsonType.String: b.byte(4); dumpString(b, v.str); break;
    case JsonType.Array: {
      b.byte(5);
      b.u32le(<u32>v.length);
      for (let i = 0; i < v.length; i++) dump(b, v.at(i)!);
      break;
    }
    default: {
      b.byte(6);
      b.u32le(<u32>v.length);
      for (let i = 0; i < v.length; i++) {
        dumpString(b, v.keyAt(i)!);
        dump(b, v.at(i)!);
      }
    }
  }
}

/** Parses JSON text into the DOM and dumps it in a tagged binary form; 0xFF + message on error. */
export function parse_dump(ptr: i32, len: i32): i32 {
  const b = new ByteBuffer(256);
  const v = JsonValue.parse(<usize>ptr, len);
  if (v == null) {
    b.byte(0xff);
    b.utf8(JsonValue.lastError);
  } else {
    dump(b, v);
  }
  return result(b);
}

/** Parses JSON text into the DOM and writes it back with JsonWriter; 0xFF + message on error. */
export function parse_write(ptr: i32, len: i32): i32 {
  const v = JsonValue.parse(<usize>ptr, len);
  if (v == null) {
    const b = new ByteBuffer(64);
    b.byte(0xff);
    b.utf8(JsonValue.lastError);
    return result(b);
  }
  const w = new JsonWriter(256, 0);
  v.write(w);
  return result(w.buf);
}

/** Streams through the text with JsonReader, re-emitting every token with JsonWriter (byte strings). */
export function stream_copy(ptr: i32, len: i32): i32 {
  const r = new JsonReader(<usize>ptr, len);
  const w = new JsonWriter(256, 0);
  while (true) {
    const t = r.next();
    switch (t) {
      case Token.Error: {
        const b = new ByteBuffer(64);
        b.byte(0xff);
        b.utf8(r.error);
        return result(b);
      }
      case Token.End: return result(w.buf);
      case Token.BeginObject: w.beginObject(); break;
      case Token.EndObject: w.endObject(); break;
      case Token.BeginArray: w.beginArray(); break;
      case Token.EndArray: w.endArray(); break;
      case Token.Key: w.keyBytes(r.strPtr, r.strLen); break;
      case Token.String: w.stringBytes(r.strPtr, r.strLen); break;
      case Token.Number: w.number(r.number()); break;
      case Token.True: w.boolean(true); break;
      case Token.False: w.boolean(false); break;
      case Token.Null: w.nullValue(); break;
    }
  }
}

/** 1 if the text is valid JSON (streaming validation, no decoding), else 0. */
export function validate(ptr: i32, len: i32): i32 {
  const r = new JsonReader(<usize>ptr, len);
  return r.validateRest() ? 1 : 0;
}

/** The number text's value (NaN if it is not a JSON number). */
export function number_parse(ptr: i32, len: i32): f64 {
  return parseNumber(<usize>ptr, len);
}

/** JSON text for a double. */
export function number_format(x: f64): i32 {
  const w = new JsonWriter(32, 0);
  w.number(x);
  return result(w.buf);
}

/** JSON text for a UTF-16 string given as `units` code units at ptr. */
export function string_format(ptr: i32, units: i32): i32 {
  const s = changetype<string>(__new(<usize>units << 1, idof<string>()));
  memory.copy(changetype<usize>(s), <usize>ptr, <usize>units << 1);
  const w = new JsonWriter(64, 0);
  w.string(s);
  return result(w.buf);
}
