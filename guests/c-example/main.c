/*
 * Example guest in C on guests/c/ea_guest.h: hit counters. It uses every import of the ABI, handles every
 * host error code, and has both triggers; the ABI conformance suite runs against it.
 *
 *   POST /hits/<key>     adds one to the counter: {"key":...,"hits":n}
 *   GET  /hits/<key>     {"key":...,"hits":n} (0 if never hit)
 *   GET  /time           {"now_ms":<clock>}
 *   GET  /config/<key>   {"key":...,"value":...}, 404 if unset
 *   POST /events/<partition>?source=<s>&time=<ms>
 *                        appends the body as an event: {"result":"new"|"duplicate"|"conflict"}
 *   GET  /events/count   {"count":<events folded by ea_on_events>}
 *
 * Host errors become JSON errors: NOT_FOUND 404, DENIED 403, TOO_LARGE 413, INVALID 400, QUOTA 429,
 * UNAVAILABLE 503, OUT_OF_BOUNDS 500. Every request is logged and counted in the metric `requests`.
 */
#define EA_GUEST_IMPLEMENTATION
#include "ea_guest.h"

static int32_t host_error(int32_t code) {
  switch (code) {
    case EA_ERROR_NOT_FOUND: return ea_respond_error(404, "not_found", "no such key");
    case EA_ERROR_DENIED: return ea_respond_error(403, "denied", "the module was not granted the capability this needs");
    case EA_ERROR_TOO_LARGE: return ea_respond_error(413, "too_large", "a key, value or name is over its size limit");
    case EA_ERROR_INVALID: return ea_respond_error(400, "invalid", "the host rejected an argument as malformed");
    case EA_ERROR_QUOTA: return ea_respond_error(429, "quota", "the call exceeded a per-call quota");
    case EA_ERROR_UNAVAILABLE: return ea_respond_error(503, "unavailable", "the store is unavailable; retry later");
    case EA_ERROR_OUT_OF_BOUNDS: return ea_respond_error(500, "out_of_bounds", "a buffer was outside guest memory");
  }
  return ea_respond_error(500, "host_error", "unexpected host error");
}

static int32_t json(uint16_t status, const ea_buf *b) {
  return ea_respond(status, "application/json", b->ptr, b->len);
}

/* The counter stored under `key` (a decimal string), 0 if absent; an error code below 0. */
static int64_t read_count(ea_bytes key) {
  ea_bytes value;
  int32_t r = ea_kv_read(key, &value);
  if (r == EA_ERROR_NOT_FOUND) return 0;
  if (r < 0) return r;
  int64_t n = ea_parse_uint(value);
  return n < 0 ? 0 : n;
}

static int32_t write_count(ea_bytes key, int64_t n) {
  ea_buf text = {0, 0, 0};
  ea_buf_int(&text, n);
  ea_bytes value = {text.ptr, text.len};
  return ea_kv_write(key, value);
}

static int32_t hits(const ea_request *req) {
  ea_bytes rest = {req->path.ptr + 6, req->path.len - 6};
  ea_buf key = {0, 0, 0};
  ea_buf_str(&key, "hit:");
  ea_buf_percent_decode(&key, rest, 0);
  if (key.len == 4) return ea_respond_error(400, "invalid_key", "the key must not be empty");
  ea_bytes k = {key.ptr, key.len};
  int64_t n = read_count(k);
  if (n < 0) return host_error((int32_t)n);
  if (req->method == EA_METHOD_POST) {
    int32_t r = write_count(k, ++n);
    if (r < 0) return host_error(r);
  } else if (req->method != EA_METHOD_GET) {
    return ea_respond_error(405, "method_not_allowed", "this route supports GET and POST");
  }
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"key\":");
  ea_bytes name = {key.ptr + 4, key.len - 4};
  ea_buf_json_string(&b, name);
  ea_buf_str(&b, ",\"hits\":");
  ea_buf_int(&b, n);
  ea_buf_byte(&b, '}');
  return json(200, &b);
}

static int32_t now(void) {
  double t = ea_clock_now_ms();
  if (t < 0) return host_error((int32_t)t);
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"now_ms\":");
  ea_buf_int(&b, (int64_t)t);
  ea_buf_byte(&b, '}');
  return json(200, &b);
}

static int32_t config(const ea_request *req) {
  ea_bytes rest = {req->path.ptr + 8, req->path.len - 8};
  ea_buf key = {0, 0, 0};
  ea_buf_percent_decode(&key, rest, 0);
  ea_bytes k = {key.ptr, key.len};
  ea_bytes value;
  int32_t r = ea_config_read(k, &value);
  if (r < 0) return host_error(r);
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"key\":");
  ea_buf_json_string(&b, k);
  ea_buf_str(&b, ",\"value\":");
  ea_buf_json_string(&b, value);
  ea_buf_byte(&b, '}');
  return json(200, &b);
}

static int32_t append(const ea_request *req) {
  ea_bytes rest = {req->path.ptr + 8, req->path.len - 8};
  ea_buf partition = {0, 0, 0};
  ea_buf_percent_decode(&partition, rest, 0);
  ea_bytes source, time;
  if (!ea_query_param(req, "source", &source) || !ea_query_param(req, "time", &time)) {
    return ea_respond_error(400, "invalid_query", "source and time (integer milliseconds) are required");
  }
  int64_t t = ea_parse_uint(time);
  if (t < 0) return ea_respond_error(400, "invalid_query", "time must be an integer number of milliseconds");
  ea_bytes p = {partition.ptr, partition.len};
  int32_t r = ea_append_event(p, source, (double)t, req->body);
  if (r < 0) return host_error(r);
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"result\":\"");
  ea_buf_str(&b, r == EA_APPEND_NEW ? "new" : r == EA_APPEND_DUPLICATE ? "duplicate" : "conflict");
  ea_buf_str(&b, "\"}");
  return json(200, &b);
}

static int32_t event_count(void) {
  int64_t n = read_count(ea_str("count:events"));
  if (n < 0) return host_error((int32_t)n);
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"count\":");
  ea_buf_int(&b, n);
  ea_buf_byte(&b, '}');
  return json(200, &b);
}

static int32_t route(const ea_request *req) {
  int get = req->method == EA_METHOD_GET;
  if (ea_bytes_starts_with(req->path, "/hits/")) return hits(req);
  if (ea_bytes_eq(req->path, "/time")) return get ? now() : ea_respond_error(405, "method_not_allowed", "use GET");
  if (ea_bytes_starts_with(req->path, "/config/")) {
    return get ? config(req) : ea_respond_error(405, "method_not_allowed", "use GET");
  }
  if (ea_bytes_eq(req->path, "/events/count")) {
    return get ? event_count() : ea_respond_error(405, "method_not_allowed", "use GET");
  }
  if (ea_bytes_starts_with(req->path, "/events/")) {
    return req->method == EA_METHOD_POST ? append(req) : ea_respond_error(405, "method_not_allowed", "use POST");
  }
  return ea_respond_error(404, "not_found", "no such route");
}

EA_EXPORT("ea_on_http") int32_t ea_on_http(int32_t ptr, int32_t len) {
  ea_request req;
  if (!ea_request_parse((const uint8_t *)(uintptr_t)ptr, len, &req)) __builtin_trap();
  int32_t frame = route(&req);
  /* "GET /hits/a -> 200" */
  static const char *const methods[] = {"OTHER", "GET", "POST", "PUT", "DELETE", "HEAD"};
  uint16_t status;
  __builtin_memcpy(&status, (const uint8_t *)(uintptr_t)frame + 4, 2);
  ea_buf line = {0, 0, 0};
  ea_buf_str(&line, methods[req.method]);
  ea_buf_byte(&line, ' ');
  ea_buf_put(&line, req.path.ptr, req.path.len);
  ea_buf_str(&line, " -> ");
  ea_buf_int(&line, status);
  ea_log(EA_LEVEL_INFO, line.ptr, (int32_t)(line.len > EA_LIMIT_LOG_BYTES ? EA_LIMIT_LOG_BYTES : line.len));
  ea_metric("requests", 1);
  return frame;
}

EA_EXPORT("ea_on_events") int32_t ea_on_events(int32_t ptr, int32_t len) {
  ea_events e;
  ea_events_init(&e, (const uint8_t *)(uintptr_t)ptr, len);
  int64_t n = 0;
  while (ea_events_next(&e)) n++;
  if (e.failed) {
    ea_log_text(EA_LEVEL_ERROR, "ea_on_events: malformed input");
    return 1;
  }
  ea_bytes key = ea_str("count:events");
  int64_t count = read_count(key);
  if (count < 0 || write_count(key, count + n) < 0) {
    ea_log_text(EA_LEVEL_ERROR, "ea_on_events: the counter could not be updated");
    return 1; /* refuse: the host rolls back and reports guest_refused */
  }
  ea_metric("events_counted", (double)n);
  return 0;
}
