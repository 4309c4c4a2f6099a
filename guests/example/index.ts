// Example guest: a small key-value notes service on the SDK. It uses every import of the ABI, handles every
// host error code, and has both triggers; the ABI conformance suite runs against it.
//
//   GET    /kv/<key>                 the stored value (application/octet-stream), 404 if absent
//   PUT    /kv/<key>                 stores the request body (204)
//   DELETE /kv/<key>                 {"deleted":true|false}
//   GET    /kv?prefix=<p>&after=<k>  {"keys":[...],"next":<key or null>}: up to `limit` (default 100) keys
//   GET    /time                     {"now_ms":<clock>}
//   GET    /config/<key>             {"key":...,"value":...}, 404 if unset
//   POST   /events/<partition>?source=<s>&time=<ms>
//                                    appends the body as an event: {"result":"new"|"duplicate"|"conflict"}
//   GET    /events/count             {"count":<events folded by ea_on_events>}
//
// Host errors become JSON errors: NOT_FOUND 404, DENIED 403, TOO_LARGE 413, INVALID 400, QUOTA 429,
// UNAVAILABLE 503, OUT_OF_BOUNDS 500. Every request is logged and counted in the metric `requests`.

import {
  Request, Response, Method, JsonWriter, ByteBuffer, EventReader, AbiError, AppendResult, kv, events, log, clock,
  config, metrics, lastError, setTrapOnUnavailable, utf8Bytes, percentDecodeInto, parseUint, formatInteger,
} from "../sdk";

export { ea_alloc } from "../sdk";

// Key-value layout: notes under "note:" + key, the event counter under "count:events".
const NOTE_PREFIX = "note:";
const COUNT_KEY = "count:events";
const COUNT_KEY_BYTES = memory.data<u8>([0x63, 0x6f, 0x75, 0x6e, 0x74, 0x3a, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x73]);

export function ea_on_http(ptr: i32, len: i32): i32 {
  // Answer store failures ourselves (503 JSON) instead of letting the call trap.
  setTrapOnUnavailable(false);
  const req = Request.read(ptr, len);
  const res = handle(req);
  // "GET /kv/a -> 200", built without intermediate strings.
  const line = new ByteBuffer(req.pathLen + 32);
  line.ascii(req.methodName);
  line.byte(0x20);
  line.bytes(req.pathPtr, req.pathLen);
  line.ascii(" -> ");
  line.ensure(8);
  line.len += formatInteger(line.ptr + <usize>line.len, res.status);
  log.writeRaw(log.INFO, line.ptr, line.len);
  metrics.add("requests", 1);
  return res.frame();
}

export function ea_on_events(ptr: i32, len: i32): i32 {
  const batch = new EventReader(ptr, len);
  let n: i32 = 0;
  while (batch.next()) n++;
  if (!batch.ok) {
    log.error("ea_on_events: malformed input");
    return 1;
  }
  const current = kv.getString(COUNT_KEY);
  let count: i64 = 0;
  if (current != null) {
    count = parseUint(current);
    if (count < 0) count = 0;
  } else if (lastError() != AbiError.NOT_FOUND) {
    log.error("ea_on_events: kv_get failed: " + AbiError.name(lastError()));
    return 1; // refuse: the host rolls back and reports guest_refused
  }
  const text = new ByteBuffer(24);
  text.len = formatInteger(text.ptr, count + <i64>n);
  if (kv.putRaw(COUNT_KEY_BYTES, 12, text.ptr, text.len) < 0) {
    log.error("ea_on_events: kv_put failed: " + AbiError.name(lastError()));
    return 1;
  }
  metrics.add("events_counted", <f64>n);
  return 0;
}

function handle(req: Request): Response {
  if (req.pathIs("/kv")) {
    if (req.method != Method.GET) return methodNotAllowed();
    return listNotes(req);
  }
  if (req.pathStartsWith("/kv/")) {
    const key = noteKey(req, 4);
    if (key.length == NOTE_PREFIX.length) return error(400, "invalid_key", "the key must not be empty");
    if (req.method == Method.GET) return getNote(key);
    if (req.method == Method.PUT) return putNote(req, key);
    if (req.method == Method.DELETE) return deleteNote(key);
    return methodNotAllowed();
  }
  if (req.pathIs("/time")) {
    if (req.method != Method.GET) return methodNotAllowed();
    const now = clock.nowMs();
    if (now < 0) return hostError(<i32>now);
    const w = new JsonWriter(64);
    w.beginObject();
    w.keyInt("now_ms", <i64>now);
    w.endObject();
    return Response.json(200, w);
  }
  if (req.pathStartsWith("/config/")) {
    if (req.method != Method.GET) return methodNotAllowed();
    const key = req.pathAfter("/config/")!;
    const value = config.get(key);
    if (value == null) return hostError(lastError());
    const w = new JsonWriter(64);
    w.beginObject();
    w.keyString("key", key);
    w.keyString("value", value);
    w.endObject();
    return Response.json(200, w);
  }
  if (req.pathIs("/events/count")) {
    if (req.method != Method.GET) return methodNotAllowed();
    const current = kv.getString(COUNT_KEY);
    if (current == null && lastError() != AbiError.NOT_FOUND) return hostError(lastError());
    const w = new JsonWriter(32);
    w.beginObject();
    const count = current == null ? 0 : parseUint(current);
    w.keyInt("count", count < 0 ? 0 : count);
    w.endObject();
    return Response.json(200, w);
  }
  if (req.pathStartsWith("/events/")) {
    if (req.method != Method.POST) return methodNotAllowed();
    return appendEvent(req);
  }
  return error(404, "not_found", "no such route");
}

/** "note:" + the percent-decoded path after `skip` bytes, as bytes. */
function noteKey(req: Request, skip: i32): Uint8Array {
  const b = new ByteBuffer(req.pathLen + 8);
  b.ascii(NOTE_PREFIX);
  percentDecodeInto(b, req.pathPtr + <usize>skip, req.pathLen - skip, false);
  return b.toArray();
}

function getNote(key: Uint8Array): Response {
  const value = kv.get(key);
  if (value == null) return hostError(lastError());
  return Response.bytes(200, "application/octet-stream", value);
}

function putNote(req: Request, key: Uint8Array): Response {
  const r = kv.putRaw(key.dataStart, key.length, req.bodyPtr, req.bodyLen);
  if (r < 0) return hostError(r);
  return Response.empty(204);
}

function deleteNote(key: Uint8Array): Response {
  const r = kv.del(key);
  if (r < 0) return hostError(r);
  const w = new JsonWriter(32);
  w.beginObject();
  w.keyBool("deleted", r == 1);
  w.endObject();
  return Response.json(200, w);
}

function listNotes(req: Request): Response {
  const prefixParam = req.param("prefix");
  const afterParam = req.param("after");
  const limitParam = req.param("limit");
  let limit = 100;
  if (limitParam != null) {
    const l = parseUint(limitParam);
    limit = l < 1 || l > 1000 ? -1 : <i32>l;
    if (limit < 0) return error(400, "invalid_query", "limit must be an integer from 1 to 1000");
  }
  const prefix = utf8Bytes(NOTE_PREFIX + (prefixParam != null ? prefixParam : ""));
  let after: Uint8Array | null = afterParam != null ? utf8Bytes(NOTE_PREFIX + afterParam) : null;
  const w = new JsonWriter(256);
  w.beginObject();
  w.key("keys");
  w.beginArray();
  let n = 0;
  let more = false;
  const skip = NOTE_PREFIX.length;
  while (!more) {
    const page = kv.list(prefix, after);
    if (page == null) return hostError(lastError());
    if (page.length == 0) break;
    for (let i = 0; i < page.length; i++) {
      if (n == limit) {
        more = true;
        break;
      }
      const k = page[i];
      w.stringBytes(k.dataStart + <usize>skip, k.length - skip);
      after = k;
      n++;
    }
  }
  w.endArray();
  w.key("next");
  if (more && after != null) w.stringBytes(after.dataStart + <usize>skip, after.length - skip);
  else w.nullValue();
  w.endObject();
  return Response.json(200, w);
}

function appendEvent(req: Request): Response {
  const partition = req.pathAfter("/events/")!;
  const source = req.param("source");
  const time = req.param("time");
  if (source == null || time == null) {
    return error(400, "invalid_query", "source and time (integer milliseconds) are required");
  }
  const t = parseUint(time);
  if (t < 0) return error(400, "invalid_query", "time must be an integer number of milliseconds");
  const payload = new Uint8Array(req.bodyLen);
  memory.copy(payload.dataStart, req.bodyPtr, <usize>req.bodyLen);
  const r = events.append(partition, source, <f64>t, payload);
  if (r < 0) return hostError(r);
  const w = new JsonWriter(32);
  w.beginObject();
  w.keyString("result", r == AppendResult.NEW ? "new" : r == AppendResult.DUPLICATE ? "duplicate" : "conflict");
  w.endObject();
  return Response.json(200, w);
}

function methodNotAllowed(): Response {
  return error(405, "method_not_allowed", "this route does not support the method");
}

function error(status: i32, code: string, message: string): Response {
  return Response.error(status, code, message);
}

/** The JSON error response for a host error code. */
function hostError(code: i32): Response {
  switch (code) {
    case AbiError.NOT_FOUND: return error(404, "not_found", "no such key");
    case AbiError.DENIED: return error(403, "denied", "the module was not granted the capability this needs");
    case AbiError.TOO_LARGE: return error(413, "too_large", "a key, value or name is over its size limit");
    case AbiError.INVALID: return error(400, "invalid", "the host rejected an argument as malformed");
    case AbiError.QUOTA: return error(429, "quota", "the call exceeded a per-call quota");
    case AbiError.UNAVAILABLE: return error(503, "unavailable", "the store is unavailable; retry later");
    case AbiError.OUT_OF_BOUNDS: return error(500, "out_of_bounds", "a buffer was outside guest memory");
  }
  return error(500, "host_error", "unexpected host error " + code.toString());
}
