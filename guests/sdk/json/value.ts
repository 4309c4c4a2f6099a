// A JSON document model on top of JsonReader, for when convenience matters more than speed:
//
//   const v = JsonValue.parse(ptr, len);   // null on error: see JsonValue.lastError
//   if (v != null && v.isObject) { const name = v.get("name"); ... }
//
// Parsing is strict (see reader.ts) and also rejects duplicate keys in an object.

import { JsonReader, Token, JSON_MAX_DEPTH } from "./reader";
import { JsonWriter } from "./writer";

export enum JsonType {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

let parseError: string = "";
let parseErrorOffset: i32 = -1;

export class JsonValue {
  type: JsonType = JsonType.Null;
  boolValue: bool = false;
  num: f64 = 0;
  str: string = "";
  /** Array elements, or object values. */
  items: Array<JsonValue> | null = null;
  /** Object keys, parallel to `items`. */
  keys: Array<string> | null = null;

  static parse(ptr: usize, len: i32, maxDepth: i32 = JSON_MAX_DEPTH): JsonValue | null {
    parseError = "";
    parseErrorOffset = -1;
    const r = new JsonReader(ptr, len, maxDepth);
    const v = parseValue(r, r.next());
    if (v == null) return null;
    if (r.next() != Token.End) {
      setError(r);
      return null;
    }
    return v;
  }

  static parseBytes(bytes: Uint8Array, maxDepth: i32 = JSON_MAX_DEPTH): JsonValue | null {
    return JsonValue.parse(bytes.dataStart, bytes.length, maxDepth);
  }

  /** Why the last parse failed: a message, e.g. "invalid number at byte 12". */
  static get lastError(): string {
    if (parseErrorOffset < 0) return parseError;
    return parseError + " at byte " + parseErrorOffset.toString();
  }

  static makeNull(): JsonValue {
    return new JsonValue();
  }

  static fromBool(b: bool): JsonValue {
    const v = new JsonValue();
    v.type = JsonType.Bool;
    v.boolValue = b;
    return v;
  }

  static fromNumber(n: f64): JsonValue {
    const v = new JsonValue();
    v.type = JsonType.Number;
    v.num = n;
    return v;
  }

  static fromString(s: string): JsonValue {
    const v = new JsonValue();
    v.type = JsonType.String;
    v.str = s;
    return v;
  }

  static newArray(): JsonValue {
    const v = new JsonValue();
    v.type = JsonType.Array;
    v.items = new Array<JsonValue>();
    return v;
  }

  static newObject(): JsonValue {
    const v = new JsonValue();
    v.type = JsonType.Object;
    v.items = new Array<JsonValue>();
    v.keys = new Array<string>();
    return v;
  }

  get isNull(): bool {
    return this.type == JsonType.Null;
  }
  get isBool(): bool {
    return this.type == JsonType.Bool;
  }
  get isNumber(): bool {
    return this.type == JsonType.Number;
  }
  get isString(): bool {
    return this.type == JsonType.String;
  }
  get isArray(): bool {
    return this.type == JsonType.Array;
  }
  get isObject(): bool {
    return this.type == JsonType.Object;
  }

  /** Number of elements (array) or members (object). */
  get length(): i32 {
    const items = this.items;
    return items == null ? 0 : items.length;
  }

  /** The element at `i` of an array (or the value of the i-th member of an object). */
  at(i: i32): JsonValue | null {
    const items = this.items;
    if (items == null || i < 0 || i >= items.length) return null;
    return unchecked(items[i]);
  }

  /** The key of the i-th member of an object. */
  keyAt(i: i32): string | null {
    const keys = this.keys;
    if (keys == null || i < 0 || i >= keys.length) return null;
    return unchecked(keys[i]);
  }

  /** The value of member `key` of an object, or null. */
  get(key: string): JsonValue | null {
    const keys = this.keys;
    if (keys == null) return null;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (unchecked(keys[i]) == key) return unchecked(this.items![i]);
    }
    return null;
  }

  /** Appends to an array. */
  push(v: JsonValue): void {
    this.items!.push(v);
  }

  /** Sets a member of an object (replacing an existing one). */
  set(key: string, v: JsonValue): void {
    const keys = this.keys!;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (unchecked(keys[i]) == key) {
        this.items![i] = v;
        return;
      }
    }
    keys.push(key);
    this.items!.push(v);
  }

  /** Writes the value as JSON. */
  write(w: JsonWriter): void {
    switch (this.type) {
      case JsonType.Null: w.nullValue(); break;
      case JsonType.Bool: w.boolean(this.boolValue); break;
      case JsonType.Number: w.number(this.num); break;
      case JsonType.String: w.string(this.str); break;
      case JsonType.Array: {
        w.beginArray();
        const items = this.items!;
        for (let i = 0, n = items.length; i < n; i++) unchecked(items[i]).write(w);
        w.endArray();
        break;
      }
      default: {
        w.beginObject();
        const items = this.items!;
        const keys = this.keys!;
        for (let i = 0, n = items.length; i < n; i++) {
          w.key(unchecked(keys[i]));
          unchecked(items[i]).write(w);
        }
        w.endObject();
      }
    }
  }

  /** The value as JSON text. */
  toJson(): string {
    const w = new JsonWriter(256, 0);
    this.write(w);
    return w.toString();
  }
}

function setError(r: JsonReader): void {
  if (parseError.length == 0) {
    parseError = r.error;
    parseErrorOffset = r.errorOffset;
  }
}

function parseValue(r: JsonReader, t: Token): JsonValue | null {
  switch (t) {
    case Token.Null: return JsonValue.makeNull();
    case Token.True: return JsonValue.fromBool(true);
    case Token.False: return JsonValue.fromBool(false);
    case Token.Number: return JsonValue.fromNumber(r.number());
    case Token.String: return JsonValue.fromString(r.string());
    case Token.BeginArray: {
      const v = JsonValue.newArray();
      while (true) {
        const t2 = r.next();
        if (t2 == Token.EndArray) return v;
        const item = parseValue(r, t2);
        if (item == null) return null;
        v.push(item);
      }
    }
    case Token.BeginObject: {
      const v = JsonValue.newObject();
      const keys = v.keys!;
      const items = v.items!;
      let seen: Set<string> | null = null;
      while (true) {
        const t2 = r.next();
        if (t2 == Token.EndObject) return v;
        if (t2 != Token.Key) {
          setError(r);
          return null;
        }
        const keyOffset = r.tokenOffset;
        const key = r.string();
        // Duplicate keys: a linear scan for small objects, a set beyond.
        let dup = false;
        if (seen != null) {
          dup = seen.has(key);
        } else {
          for (let i = 0, n = keys.length; i < n; i++) {
            if (unchecked(keys[i]) == key) {
              dup = true;
              break;
            }
          }
          if (keys.length >= 16) {
            seen = new Set<string>();
            for (let i = 0, n = keys.length; i < n; i++) seen.add(unchecked(keys[i]));
          }
        }
        if (dup) {
          parseError = "duplicate key \"" + key + "\"";
          parseErrorOffset = keyOffset;
          return null;
        }
        if (seen != null) seen.add(key);
        const item = parseValue(r, r.next());
        if (item == null) return null;
        keys.push(key);
        items.push(item);
      }
    }
  }
  setError(r);
  return null;
}
