// POST /v1/readings: validates a batch of readings and appends the valid ones to the event log.
//
// Valid items are kept and invalid ones rejected, each with its own result (never all-or-nothing), except for
// request-level errors that refuse the whole batch before anything is appended: 415 (content type), 400
// invalid_json (application/json body that is not JSON), 413 (more than MAX_ITEMS items), 400 empty_batch.

import {
  Request, Response, JsonReader, JsonWriter, Token, ByteBuffer, Principal, events, metrics, AppendResult,
  AbiError, formatInteger,
} from "../sdk";
import { validRegion, validDevice } from "./keys";
import { Settings, loadSettings } from "./settings";
import { errorResponse, hostFailure } from "./errors";
import { MIN_TEMP, MAX_TEMP } from "./fold";
import { Registry, ADMIT_NEW, ADMIT_FULL } from "./registry";

export const MAX_ITEMS: i32 = 10000;
const MAX_SAFE: f64 = 9007199254740991;

// Field ids.
const F_DEVICE: i32 = 0;
const F_REGION: i32 = 1;
const F_TEMP: i32 = 2;
const F_TIME: i32 = 3;
const F_NONE: i32 = -1;

// Item error codes (index into CODE_NAMES).
const E_NONE: i32 = -1;
const E_INVALID_JSON: i32 = 0;
const E_INVALID_TYPE: i32 = 1;
const E_UNKNOWN_FIELD: i32 = 2;
const E_DUPLICATE_FIELD: i32 = 3;
const E_MISSING_FIELD: i32 = 4;
const E_INVALID_FORMAT: i32 = 5;
const E_OUT_OF_RANGE: i32 = 6;
const E_IN_FUTURE: i32 = 7;
const E_TOO_LATE: i32 = 8;
const E_DEVICE_MISMATCH: i32 = 9;
const E_CONFLICT: i32 = 10;
const E_TOO_MANY_REGIONS: i32 = 11;
const N_CODES: i32 = 12;

const CODE_NAMES: StaticArray<string> = [
  "invalid_json", "invalid_type", "unknown_field", "duplicate_field", "missing_field", "invalid_format",
  "out_of_range", "timestamp_in_future", "too_late", "device_mismatch", "conflict",
  "too_many_regions",
];

const FIELD_NAMES: StaticArray<string> = ["device_id", "region", "temperature_c", "timestamp"];

// JSON value kinds as seen for a field.
const V_STRING: i32 = 1;
const V_NUMBER: i32 = 2;
const V_OTHER: i32 = 3;

/** What one item looked like, filled by parseItem. */
class Item {
  seen: StaticArray<i32> = new StaticArray<i32>(4); // occurrences of each field
  kind: StaticArray<i32> = new StaticArray<i32>(4); // V_* of the first occurrence
  device: ByteBuffer = new ByteBuffer(128);
  region: ByteBuffer = new ByteBuffer(64);
  unknown: ByteBuffer = new ByteBuffer(64); // the first unknown field name
  hasUnknown: bool = false;
  duplicate: i32 = F_NONE;
  temp: f64 = 0;
  time: f64 = 0;
  notObject: bool = false;
  jsonError: bool = false;

  reset(): void {
    for (let i = 0; i < 4; i++) {
      unchecked(this.seen[i] = 0);
      unchecked(this.kind[i] = 0);
    }
    this.device.reset();
    this.region.reset();
    this.unknown.reset();
    this.hasUnknown = false;
    this.duplicate = F_NONE;
    this.notObject = false;
    this.jsonError = false;
  }
}

function fieldId(r: JsonReader): i32 {
  switch (r.strLen) {
    case 6: return r.stringIs("region") ? F_REGION : F_NONE;
    case 9: {
      if (r.stringIs("device_id")) return F_DEVICE;
      return r.stringIs("timestamp") ? F_TIME : F_NONE;
    }
    case 13: return r.stringIs("temperature_c") ? F_TEMP : F_NONE;
  }
  return F_NONE;
}

/** Reads one item whose first token `t` was just returned. Syntax errors set jsonError. */
function parseItem(r: JsonReader, t: Token, item: Item): void {
  item.reset();
  if (t != Token.BeginObject) {
    item.notObject = true;
    if (!r.skipValue(t)) item.jsonError = true;
    return;
  }
  while (true) {
    t = r.next();
    if (t == Token.EndObject) return;
    if (t != Token.Key) {
      item.jsonError = true;
      return;
    }
    const f = fieldId(r);
    if (f == F_NONE) {
      if (!item.hasUnknown) {
        item.hasUnknown = true;
        item.unknown.bytes(r.strPtr, r.strLen);
      }
    } else {
      const n = unchecked(item.seen[f]) + 1;
      unchecked(item.seen[f] = n);
      if (n == 2 && item.duplicate == F_NONE) item.duplicate = f;
    }
    const v = r.next();
    if (v == Token.Error) {
      item.jsonError = true;
      return;
    }
    if (f != F_NONE && unchecked(item.seen[f]) == 1) {
      if (v == Token.String) {
        unchecked(item.kind[f] = V_STRING);
        if (f == F_DEVICE) item.device.bytes(r.strPtr, r.strLen);
        else if (f == F_REGION) item.region.bytes(r.strPtr, r.strLen);
      } else if (v == Token.Number) {
        unchecked(item.kind[f] = V_NUMBER);
        if (f == F_TEMP) item.temp = r.number();
        else if (f == F_TIME) item.time = r.number();
      } else {
        unchecked(item.kind[f] = V_OTHER);
      }
    }
    if (!r.skipValue(v)) {
      item.jsonError = true;
      return;
    }
  }
}

/** The outcome of checking one item: an error code (or E_NONE) and the field it is about. */
class Verdict {
  code: i32 = E_NONE;
  field: i32 = F_NONE;
  message: string = "";
}

const MSG_NOT_OBJECT = "each reading must be a JSON object with device_id, region, temperature_c and timestamp";
const MSG_UNKNOWN = "unknown field: a reading has exactly the fields device_id, region, temperature_c and timestamp";
const MSG_DUPLICATE = "the field appears more than once in this reading";
const MSG_DEVICE_FORMAT = "device_id must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'";
const MSG_REGION_FORMAT = "region must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'";
const MSG_TEMP_RANGE = "temperature_c must be a finite number from -273.15 to 1000";
const MSG_TIME_FORMAT = "timestamp must be an integer number of milliseconds since the Unix epoch";
const MSG_TIME_RANGE = "timestamp must be from 0 to 9007199254740991 (milliseconds since the Unix epoch)";
const MSG_MISMATCH = "device_id does not match the device this token was issued to";
const MSG_CONFLICT = "a different reading with this device_id and timestamp was already accepted; the first one is kept";

function missingMessage(f: i32): string {
  switch (f) {
    case F_DEVICE: return "device_id is required";
    case F_REGION: return "region is required";
    case F_TEMP: return "temperature_c is required";
  }
  return "timestamp is required";
}

function typeMessage(f: i32): string {
  switch (f) {
    case F_DEVICE: return "device_id must be a string";
    case F_REGION: return "region must be a string";
    case F_TEMP: return "temperature_c must be a number";
  }
  return "timestamp must be a number";
}

function check(item: Item, v: Verdict, s: Settings, req: Request): void {
  v.code = E_NONE;
  v.field = F_NONE;
  if (item.jsonError) {
    v.code = E_INVALID_JSON;
    return;
  }
  if (item.notObject) {
    v.code = E_INVALID_TYPE;
    v.message = MSG_NOT_OBJECT;
    return;
  }
  if (item.hasUnknown) {
    v.code = E_UNKNOWN_FIELD;
    v.message = MSG_UNKNOWN;
    return;
  }
  if (item.duplicate != F_NONE) {
    v.code = E_DUPLICATE_FIELD;
    v.field = item.duplicate;
    v.message = MSG_DUPLICATE;
    return;
  }
  for (let f = 0; f < 4; f++) {
    v.field = f;
    if (unchecked(item.seen[f]) == 0) {
      v.code = E_MISSING_FIELD;
      v.message = missingMessage(f);
      return;
    }
    const want = f <= F_REGION ? V_STRING : V_NUMBER;
    if (unchecked(item.kind[f]) != want) {
      v.code = E_INVALID_TYPE;
      v.message = typeMessage(f);
      return;
    }
    if (f == F_DEVICE) {
      if (!validDevice(item.device.ptr, item.device.len)) {
        v.code = E_INVALID_FORMAT;
        v.message = MSG_DEVICE_FORMAT;
        return;
      }
    } else if (f == F_REGION) {
      if (!validRegion(item.region.ptr, item.region.len)) {
        v.code = E_INVALID_FORMAT;
        v.message = MSG_REGION_FORMAT;
        return;
      }
    } else if (f == F_TEMP) {
      const x = item.temp;
      if (!(x >= MIN_TEMP && x <= MAX_TEMP)) {
        v.code = E_OUT_OF_RANGE;
        v.message = MSG_TEMP_RANGE;
        return;
      }
    } else {
      const t = item.time;
      if (!isFinite(t) || Math.floor(t) != t) {
        v.code = E_INVALID_FORMAT;
        v.message = MSG_TIME_FORMAT;
        return;
      }
      if (t < 0 || t > MAX_SAFE) {
        v.code = E_OUT_OF_RANGE;
        v.message = MSG_TIME_RANGE;
        return;
      }
    }
  }
  v.field = F_TIME;
  const t = item.time;
  if (t > s.now + s.maxFutureMs) {
    v.code = E_IN_FUTURE;
    v.message = s.futureMessage();
    return;
  }
  if (t < s.now - s.gracePeriodMs) {
    v.code = E_TOO_LATE;
    v.message = s.lateMessage();
    return;
  }
  if (req.principal == Principal.Device) {
    const d = item.device;
    if (d.len != req.subjectLen || memory.compare(d.ptr, req.subjectPtr, <usize>d.len) != 0) {
      v.code = E_DEVICE_MISMATCH;
      v.field = F_DEVICE;
      v.message = MSG_MISMATCH;
      return;
    }
  }
  v.field = F_NONE;
}

/** Processes items and writes their results. */
class Batch {
  req: Request;
  settings: Settings;
  item: Item = new Item();
  verdict: Verdict = new Verdict();
  // The results array; the response's head is put in front of it at the end.
  out: JsonWriter = new JsonWriter(4096, 256);
  payload: usize = heap.alloc(8);
  registry: Registry = new Registry();
  /** Set when the event log refused a call outright (e.g. DENIED): the whole request fails with it. */
  fatal: Response | null = null;
  accepted: i32 = 0;
  duplicates: i32 = 0;
  rejected: i32 = 0;
  byCode: StaticArray<i32> = new StaticArray<i32>(N_CODES);

  constructor(req: Request, settings: Settings) {
    this.req = req;
    this.settings = settings;
    this.out.beginArray();
  }

  /** Checks and appends the item just parsed; `jsonMessage` is the message if it was not valid JSON. */
  finish(jsonMessage: string): void {
    const item = this.item;
    const v = this.verdict;
    check(item, v, this.settings, this.req);
    if (v.code == E_INVALID_JSON) v.message = jsonMessage;
    let admitted: i32 = 0;
    if (v.code == E_NONE) {
      admitted = this.registry.admit(item.region.ptr, item.region.len, this.settings.maxRegions);
      if (admitted == AbiError.DENIED && this.accepted + this.duplicates == 0) {
        this.fatal = hostFailure(admitted, "kv");
        return;
      }
      if (admitted < 0) this.storeFailed(admitted, "kv");
      if (admitted == ADMIT_FULL) {
        v.code = E_TOO_MANY_REGIONS;
        v.field = F_REGION;
        v.message = this.settings.regionsMessage();
      }
    }
    if (v.code == E_NONE) {
      const temp = item.temp + 0.0; // -0 -> 0
      store<f64>(this.payload, temp);
      const res = events.appendRaw(
        item.region.ptr, item.region.len, item.device.ptr, item.device.len, item.time + 0.0, this.payload, 8,
      );
      if (res == AppendResult.NEW) {
        if (admitted == ADMIT_NEW) {
          const r = this.registry.add(item.region.ptr, item.region.len);
          if (r < 0) this.storeFailed(r, "kv");
        }
        this.accepted++;
        this.writeStatus("accepted");
        return;
      }
      if (res == AppendResult.DUPLICATE) {
        this.duplicates++;
        this.writeStatus("duplicate");
        return;
      }
      if (res == AppendResult.CONFLICT) {
        v.code = E_CONFLICT;
        v.field = F_NONE;
        v.message = MSG_CONFLICT;
      } else if (res == AbiError.DENIED && this.accepted + this.duplicates == 0) {
        // The module may not append events at all: nothing was appended, answer with the error.
        this.fatal = hostFailure(res, "events");
        return;
      } else {
        // Any other refusal of the log (UNAVAILABLE has already aborted): fail the whole call, so the host
        // rolls back the readings appended so far and reports the error.
        abort("event_append failed: " + AbiError.name(res), null, 0, 0);
      }
    }
    this.rejected++;
    unchecked(this.byCode[v.code]++);
    const w = this.out;
    w.beginObject();
    w.keyString("status", "rejected");
    w.key("error");
    w.beginObject();
    w.keyString("code", unchecked(CODE_NAMES[v.code]));
    w.keyString("message", v.message);
    if (v.code == E_UNKNOWN_FIELD) {
      w.key("field");
      w.stringBytes(item.unknown.ptr, item.unknown.len);
    } else if (v.field != F_NONE) {
      w.keyString("field", unchecked(FIELD_NAMES[v.field]));
    }
    w.endObject();
    w.endObject();
  }

  /** A store call failed mid-batch: fail the whole call, so the host rolls back what it appended. */
  private storeFailed(code: i32, capability: string): void {
    abort(capability + " failed: " + AbiError.name(code), null, 0, 0);
  }

  private writeStatus(s: string): void {
    const w = this.out;
    w.beginObject();
    w.keyString("status", s);
    w.endObject();
  }

  response(): Response {
    if (this.fatal != null) return this.fatal!;
    const saved = this.registry.save();
    if (saved < 0) this.storeFailed(saved, "kv");
    const w = this.out;
    w.endArray();
    w.buf.byte(0x7d); // closes the response object opened by the head
    // The head goes in the headroom in front of the results.
    const head = new ByteBuffer(160);
    head.ascii("{\"accepted\":");
    appendInt(head, this.accepted);
    head.ascii(",\"duplicates\":");
    appendInt(head, this.duplicates);
    head.ascii(",\"rejected\":");
    appendInt(head, this.rejected);
    head.ascii(",\"results\":");
    const buf = w.buf;
    buf.ptr -= <usize>head.len;
    buf.len += head.len;
    buf.cap += head.len;
    memory.copy(buf.ptr, head.ptr, <usize>head.len);
    this.countMetrics();
    const status = this.accepted + this.duplicates == 0 ? 422 : 200;
    return Response.buffer(status, "application/json", buf);
  }

  private countMetrics(): void {
    if (this.accepted > 0) metrics.add("readings_accepted", <f64>this.accepted);
    if (this.duplicates > 0) metrics.add("readings_duplicate", <f64>this.duplicates);
    for (let c = 0; c < N_CODES; c++) {
      const n = unchecked(this.byCode[c]);
      if (n > 0) metrics.add("readings_rejected_" + unchecked(CODE_NAMES[c]), <f64>n);
    }
  }
}

function appendInt(b: ByteBuffer, v: i32): void {
  b.ensure(12);
  b.len += formatInteger(b.ptr + <usize>b.len, <i64>v);
}

function batchError(status: i32, code: string, message: string): Response {
  metrics.add("batches_rejected_" + code, 1);
  return errorResponse(status, code, message);
}

/** The answer to a batch of `items` readings that is too large or empty; null when it may go on. */
function refuseBatchSize(items: i32): Response | null {
  if (items > MAX_ITEMS) {
    return batchError(413, "batch_too_large", "a batch holds at most 10000 readings; split it");
  }
  if (items == 0) return batchError(400, "empty_batch", "the batch has no readings");
  return null;
}

function jsonErrorMessage(r: JsonReader, prefix: string): string {
  return prefix + r.error + " at byte " + r.errorOffset.toString();
}

export function postReadings(req: Request): Response {
  const isJson = req.contentTypeIs("application/json");
  const isNdjson = !isJson && req.contentTypeIs("application/x-ndjson");
  if (!isJson && !isNdjson) {
    return batchError(415, "unsupported_media_type",
      "send readings as application/json (an object or an array) or application/x-ndjson (one object per line)");
  }
  return isJson ? postJson(req) : postNdjson(req);
}

function postJson(req: Request): Response {
  const r = new JsonReader(req.bodyPtr, req.bodyLen);
  // Pass 1: the whole body must be JSON; count the items.
  let t = r.next();
  let items: i32 = 1;
  const isArray = t == Token.BeginArray;
  if (isArray) {
    items = 0;
    while (true) {
      t = r.next();
      if (t == Token.EndArray || t == Token.Error) break;
      items++;
      if (!r.skipValue(t)) {
        t = Token.Error;
        break;
      }
    }
  }
  if (t != Token.Error && !r.skipValue(t)) t = Token.Error;
  if (t == Token.Error || r.next() != Token.End) {
    return batchError(400, "invalid_json", jsonErrorMessage(r, "the body is not valid JSON: "));
  }
  const refused = refuseBatchSize(items);
  if (refused != null) return refused!;
  const s = loadSettings();
  if (s.error != null) return s.error!;
  // Pass 2: process the items.
  const b = new Batch(req, s);
  r.reset(req.bodyPtr, req.bodyLen);
  t = r.next();
  if (isArray) {
    while (true) {
      t = r.next();
      if (t == Token.EndArray) break;
      parseItem(r, t, b.item);
      b.finish("");
      if (b.fatal != null) break;
    }
  } else {
    parseItem(r, t, b.item);
    b.finish("");
  }
  return b.response();
}

// @ts-ignore: decorator
@inline function isBlank(c: u32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0d;
}

function postNdjson(req: Request): Response {
  const start = req.bodyPtr;
  const end = start + <usize>req.bodyLen;
  // Pass 1: count the non-blank lines.
  let items: i32 = 0;
  let p = start;
  while (p < end) {
    let blank = true;
    while (p < end) {
      const c = <u32>load<u8>(p);
      if (c == 0x0a) break;
      if (!isBlank(c)) blank = false;
      p++;
    }
    if (!blank) items++;
    p++;
  }
  const refused = refuseBatchSize(items);
  if (refused != null) return refused!;
  const s = loadSettings();
  if (s.error != null) return s.error!;
  // Pass 2: each non-blank line is one item.
  const b = new Batch(req, s);
  const r = new JsonReader(start, 0);
  let line: i32 = 0;
  p = start;
  while (p < end) {
    const lineStart = p;
    let blank = true;
    while (p < end) {
      const c = <u32>load<u8>(p);
      if (c == 0x0a) break;
      if (!isBlank(c)) blank = false;
      p++;
    }
    line++;
    if (!blank) {
      r.reset(lineStart, <i32>(p - lineStart));
      parseItem(r, r.next(), b.item);
      if (!b.item.jsonError && r.next() != Token.End) b.item.jsonError = true;
      b.finish(b.item.jsonError ? jsonErrorMessage(r, "line " + line.toString() + " is not valid JSON: ") : "");
      if (b.fatal != null) break;
    }
    p++;
  }
  return b.response();
}
