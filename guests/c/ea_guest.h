/*
 * ea_guest.h: the edge-aggregator guest SDK for C, for guest ABI v1 (docs/abi.md). One header, no libc.
 *
 * In exactly one source file, define EA_GUEST_IMPLEMENTATION before including it: that file then defines
 * the `ea_alloc` export and the bump allocator. Build (guests/c/README.md has the full command):
 *
 *   clang --target=wasm32-unknown-unknown -nostdlib -Wl,--no-entry -Oz -mbulk-memory -I guests/c ...
 *
 * A guest defines its triggers with EA_EXPORT:
 *
 *   #define EA_GUEST_IMPLEMENTATION
 *   #include "ea_guest.h"
 *
 *   EA_EXPORT("ea_on_http") int32_t ea_on_http(int32_t ptr, int32_t len) {
 *     ea_request req;
 *     if (!ea_request_parse((const uint8_t *)(uintptr_t)ptr, len, &req)) __builtin_trap();
 *     return ea_respond(200, "text/plain; charset=utf-8", "hello", 5);
 *   }
 *
 * Host imports return a non-negative result or an ea_error code. Memory comes from a bump allocator that
 * never frees: the host restores the guest's memory after every call, so every call starts afresh.
 * __builtin_trap() (or any trap) makes the host roll back every write of the call and report guest_trap.
 *
 * The host declares the same contract in src/runtime/abi.ts; test/abi/abi-agreement.test.ts reads this
 * file and fails, naming the constant, when the two disagree. Write every value as an integer literal.
 */
#ifndef EA_GUEST_H
#define EA_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* The version of the guest ABI this SDK speaks. */
#define EA_ABI_VERSION 1

#define EA_IMPORT(name) __attribute__((import_module("ea"), import_name(name)))
#define EA_EXPORT(name) __attribute__((export_name(name)))

/* ---- Raw host imports (module "ea"). Pointers are offsets into the guest's own memory. ---- */

EA_IMPORT("log") int32_t ea_log(int32_t level, const void *ptr, int32_t len);
EA_IMPORT("clock_now_ms") double ea_clock_now_ms(void);
EA_IMPORT("config_get") int32_t ea_config_get(const void *key_ptr, int32_t key_len, void *out_ptr, int32_t out_cap);
EA_IMPORT("kv_get") int32_t ea_kv_get(const void *key_ptr, int32_t key_len, void *out_ptr, int32_t out_cap);
EA_IMPORT("kv_put") int32_t ea_kv_put(const void *key_ptr, int32_t key_len, const void *val_ptr, int32_t val_len);
EA_IMPORT("kv_delete") int32_t ea_kv_delete(const void *key_ptr, int32_t key_len);
EA_IMPORT("kv_list") int32_t ea_kv_list(const void *prefix_ptr, int32_t prefix_len, const void *after_ptr, int32_t after_len,
                                        void *out_ptr, int32_t out_cap);
EA_IMPORT("event_append") int32_t ea_event_append(const void *part_ptr, int32_t part_len, const void *src_ptr, int32_t src_len,
                                                  double time_ms, const void *payload_ptr, int32_t payload_len);
EA_IMPORT("metric_add") int32_t ea_metric_add(const void *name_ptr, int32_t name_len, double value);

/* The closed set of error codes every import can return (docs/abi.md, "Error codes"). */
enum ea_error {
  EA_ERROR_NONE = 0,
  EA_ERROR_NOT_FOUND = -1,
  EA_ERROR_DENIED = -2,
  EA_ERROR_OUT_OF_BOUNDS = -3,
  EA_ERROR_TOO_LARGE = -4,
  EA_ERROR_INVALID = -5,
  EA_ERROR_UNAVAILABLE = -6,
  EA_ERROR_QUOTA = -7,
};

/* The host's limits (docs/abi.md, "Limits"). */
enum ea_limit {
  EA_LIMIT_KEY_BYTES = 512,
  EA_LIMIT_VALUE_BYTES = 1048576,
  EA_LIMIT_PARTITION_BYTES = 64,
  EA_LIMIT_SOURCE_BYTES = 128,
  EA_LIMIT_PAYLOAD_BYTES = 4096,
  EA_LIMIT_LOG_BYTES = 4096,
  EA_LIMIT_CONFIG_KEY_BYTES = 128,
  EA_LIMIT_METRIC_NAME_BYTES = 64,
  EA_LIMIT_METRIC_NAMES = 64,
  EA_LIMIT_EVENTS_PER_CALL = 100000,
  EA_LIMIT_EVENTS_PER_FOLD = 10000,
  EA_LIMIT_HOST_CALLS_PER_CALL = 1000000,
  EA_LIMIT_LIST_BUFFER_MIN = 514,
  EA_LIMIT_TABLE_ENTRIES = 100000,
};

/* What event_append returns when it succeeds. */
enum ea_append {
  EA_APPEND_NEW = 0,
  EA_APPEND_DUPLICATE = 1,
  EA_APPEND_CONFLICT = 2,
};

/* The levels of the log import. */
enum ea_level {
  EA_LEVEL_DEBUG = 0,
  EA_LEVEL_INFO = 1,
  EA_LEVEL_WARN = 2,
  EA_LEVEL_ERROR = 3,
};

/* The request method as the envelope encodes it; OTHER is any method the ABI does not name. */
enum ea_method {
  EA_METHOD_OTHER = 0,
  EA_METHOD_GET = 1,
  EA_METHOD_POST = 2,
  EA_METHOD_PUT = 3,
  EA_METHOD_DELETE = 4,
  EA_METHOD_HEAD = 5,
};

/* Who the host authenticated the request as. */
enum ea_principal {
  EA_PRINCIPAL_ANONYMOUS = 0,
  EA_PRINCIPAL_DEVICE = 1,
  EA_PRINCIPAL_GATEWAY = 2,
  EA_PRINCIPAL_READ = 3,
  EA_PRINCIPAL_ADMIN = 4,
};

/* The ABI name of an error code, e.g. "UNAVAILABLE". */
static inline const char *ea_error_name(int32_t code) {
  switch (code) {
    case EA_ERROR_NONE: return "OK";
    case EA_ERROR_NOT_FOUND: return "NOT_FOUND";
    case EA_ERROR_DENIED: return "DENIED";
    case EA_ERROR_OUT_OF_BOUNDS: return "OUT_OF_BOUNDS";
    case EA_ERROR_TOO_LARGE: return "TOO_LARGE";
    case EA_ERROR_INVALID: return "INVALID";
    case EA_ERROR_UNAVAILABLE: return "UNAVAILABLE";
    case EA_ERROR_QUOTA: return "QUOTA";
  }
  return "UNKNOWN";
}

/* ---- Bytes and memory ---- */

/* A byte range in guest memory (not NUL-terminated). */
typedef struct {
  const uint8_t *ptr;
  uint32_t len;
} ea_bytes;

static inline size_t ea_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static inline ea_bytes ea_str(const char *s) {
  ea_bytes b = {(const uint8_t *)s, (uint32_t)ea_strlen(s)};
  return b;
}

/* Whether the first n bytes at a and b are equal (there is no libc memcmp). */
static inline int ea_memeq(const void *a, const void *b, size_t n) {
  const uint8_t *x = (const uint8_t *)a;
  const uint8_t *y = (const uint8_t *)b;
  for (size_t i = 0; i < n; i++) {
    if (x[i] != y[i]) return 0;
  }
  return 1;
}

static inline int ea_bytes_eq(ea_bytes a, const char *s) {
  size_t n = ea_strlen(s);
  return a.len == n && ea_memeq(a.ptr, s, n);
}

static inline int ea_bytes_starts_with(ea_bytes a, const char *s) {
  size_t n = ea_strlen(s);
  return a.len >= n && ea_memeq(a.ptr, s, n);
}

/* Allocates n bytes (8-aligned) for the rest of the call; traps when memory is at its maximum. */
void *ea_malloc(size_t n);

/* A growable byte buffer on the bump allocator. */
typedef struct {
  uint8_t *ptr;
  uint32_t len;
  uint32_t cap;
} ea_buf;

static inline void ea_buf_reserve(ea_buf *b, uint32_t n) {
  if (b->len + n <= b->cap) return;
  uint32_t cap = b->cap < 64 ? 64 : b->cap;
  while (cap < b->len + n) cap *= 2;
  uint8_t *p = (uint8_t *)ea_malloc(cap);
  if (b->len) __builtin_memcpy(p, b->ptr, b->len);
  b->ptr = p;
  b->cap = cap;
}

static inline void ea_buf_put(ea_buf *b, const void *data, uint32_t n) {
  ea_buf_reserve(b, n);
  if (n) __builtin_memcpy(b->ptr + b->len, data, n);
  b->len += n;
}

static inline void ea_buf_byte(ea_buf *b, uint8_t c) {
  ea_buf_reserve(b, 1);
  b->ptr[b->len++] = c;
}

static inline void ea_buf_str(ea_buf *b, const char *s) {
  ea_buf_put(b, s, (uint32_t)ea_strlen(s));
}

/* Appends the decimal digits of v. */
static inline void ea_buf_int(ea_buf *b, int64_t v) {
  char digits[20];
  int i = 20;
  uint64_t n = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[--i] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  if (v < 0) ea_buf_byte(b, '-');
  ea_buf_put(b, digits + i, (uint32_t)(20 - i));
}

/* The length of the valid UTF-8 sequence at p (at most `left` bytes), 0 if it is not one. */
static inline uint32_t ea_utf8_sequence(const uint8_t *p, uint32_t left) {
  uint8_t c = p[0];
  uint32_t n;
  uint32_t min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000;
  else return 0;
  if (left < n) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (uint32_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* Appends bytes as a JSON string: escaped as JSON.stringify does; invalid UTF-8 becomes U+FFFD. */
static inline void ea_buf_json_string(ea_buf *b, ea_bytes s) {
  static const char hex[] = "0123456789abcdef";
  ea_buf_byte(b, '"');
  for (uint32_t i = 0; i < s.len;) {
    uint8_t c = s.ptr[i];
    uint32_t n = ea_utf8_sequence(s.ptr + i, s.len - i);
    if (n == 0) {
      ea_buf_str(b, "\xef\xbf\xbd");
      i++;
      continue;
    }
    if (c == '"' || c == '\\') {
      ea_buf_byte(b, '\\');
      ea_buf_byte(b, c);
    } else if (c == '\n') {
      ea_buf_str(b, "\\n");
    } else if (c == '\r') {
      ea_buf_str(b, "\\r");
    } else if (c == '\t') {
      ea_buf_str(b, "\\t");
    } else if (c == '\b') {
      ea_buf_str(b, "\\b");
    } else if (c == '\f') {
      ea_buf_str(b, "\\f");
    } else if (c < 0x20) {
      ea_buf_str(b, "\\u00");
      ea_buf_byte(b, (uint8_t)hex[c >> 4]);
      ea_buf_byte(b, (uint8_t)hex[c & 15]);
    } else {
      ea_buf_put(b, s.ptr + i, n);
    }
    i += n;
  }
  ea_buf_byte(b, '"');
}

/* Parses a non-negative decimal integer below 2^53 (digits only); -1 if the bytes are not one. */
static inline int64_t ea_parse_uint(ea_bytes s) {
  if (s.len < 1 || s.len > 16) return -1;
  int64_t v = 0;
  for (uint32_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return -1;
    v = v * 10 + (s.ptr[i] - '0');
  }
  return v <= 9007199254740991LL ? v : -1;
}

/* ---- HTTP ---- */

typedef struct {
  enum ea_method method;
  enum ea_principal principal;
  ea_bytes path; /* as received: percent-encoded, no query string */
  ea_bytes query; /* raw, without '?' */
  ea_bytes content_type; /* media type only, lower case */
  ea_bytes subject; /* the token's sub: for a device token, its device id */
  ea_bytes body;
} ea_request;

/* Decodes the ea_on_http envelope; 0 when it is malformed (a host bug: trap). */
static inline int ea_request_parse(const uint8_t *in, int32_t len, ea_request *req) {
  if (len < 4 + 2 * 4 + 4 || in[0] != 1) return 0;
  const uint8_t *p = in + 4;
  const uint8_t *end = in + len;
  ea_bytes *fields[4] = {&req->path, &req->query, &req->content_type, &req->subject};
  req->method = in[1] <= 5 ? (enum ea_method)in[1] : EA_METHOD_OTHER;
  req->principal = in[2] <= 4 ? (enum ea_principal)in[2] : EA_PRINCIPAL_ANONYMOUS;
  for (int i = 0; i < 4; i++) {
    if (end - p < 2) return 0;
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    p += 2;
    if ((uint32_t)(end - p) < n) return 0;
    fields[i]->ptr = p;
    fields[i]->len = n;
    p += n;
  }
  if (end - p < 4) return 0;
  uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  p += 4;
  if ((uint32_t)(end - p) != n) return 0;
  req->body.ptr = p;
  req->body.len = n;
  return 1;
}

static inline int ea_hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* Appends percent-decoded bytes (invalid escapes are kept as they are). */
static inline void ea_buf_percent_decode(ea_buf *b, ea_bytes s, int plus_is_space) {
  for (uint32_t i = 0; i < s.len; i++) {
    uint8_t c = s.ptr[i];
    if (c == '%' && i + 2 < s.len) {
      int h = ea_hex_value(s.ptr[i + 1]);
      int l = ea_hex_value(s.ptr[i + 2]);
      if (h >= 0 && l >= 0) {
        ea_buf_byte(b, (uint8_t)(h << 4 | l));
        i += 2;
        continue;
      }
    }
    ea_buf_byte(b, plus_is_space && c == '+' ? ' ' : c);
  }
}

/* The query parameter `name`, percent-decoded ('+' is a space), into *out; 0 if absent. The first one wins. */
static inline int ea_query_param(const ea_request *req, const char *name, ea_bytes *out) {
  const uint8_t *p = req->query.ptr;
  const uint8_t *end = p + req->query.len;
  while (p < end) {
    const uint8_t *pair = p;
    while (p < end && *p != '&') p++;
    const uint8_t *eq = pair;
    while (eq < p && *eq != '=') eq++;
    ea_bytes key = {pair, (uint32_t)(eq - pair)};
    if (key.len > 0 && ea_bytes_eq(key, name)) {
      ea_bytes raw = {eq < p ? eq + 1 : p, (uint32_t)(eq < p ? p - eq - 1 : 0)};
      ea_buf buf = {0, 0, 0};
      ea_buf_percent_decode(&buf, raw, 1);
      out->ptr = buf.ptr;
      out->len = buf.len;
      return 1;
    }
    if (p < end) p++;
  }
  return 0;
}

/* Builds the response frame and returns its address: the return value of ea_on_http. */
static inline int32_t ea_respond(uint16_t status, const char *content_type, const void *body, uint32_t len) {
  uint32_t ct = (uint32_t)ea_strlen(content_type);
  uint8_t *f = (uint8_t *)ea_malloc(8 + ct + len);
  uint32_t frame = 4 + ct + len;
  __builtin_memcpy(f, &frame, 4);
  __builtin_memcpy(f + 4, &status, 2);
  uint16_t ct16 = (uint16_t)ct;
  __builtin_memcpy(f + 6, &ct16, 2);
  __builtin_memcpy(f + 8, content_type, ct);
  if (len) __builtin_memcpy(f + 8 + ct, body, len);
  return (int32_t)(uintptr_t)f;
}

/* `{"error":{"code":code,"message":message}}` as application/json. */
static inline int32_t ea_respond_error(uint16_t status, const char *code, const char *message) {
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"error\":{\"code\":");
  ea_buf_json_string(&b, ea_str(code));
  ea_buf_str(&b, ",\"message\":");
  ea_buf_json_string(&b, ea_str(message));
  ea_buf_str(&b, "}}");
  return ea_respond(status, "application/json", b.ptr, b.len);
}

/* ---- Events (the ea_on_events input) ---- */

typedef struct {
  const uint8_t *pos;
  const uint8_t *end;
  uint32_t remaining;
  int failed; /* set when the input is malformed (a host bug): refuse the call */
  ea_bytes partition;
  ea_bytes source;
  double time_ms;
  ea_bytes payload;
} ea_events;

static inline void ea_events_init(ea_events *e, const uint8_t *in, int32_t len) {
  e->pos = in + 4;
  e->end = in + len;
  e->failed = len < 4;
  e->remaining = e->failed ? 0 : (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

static inline int ea_events_text(ea_events *e, ea_bytes *out) {
  if (e->end - e->pos < 2) return 0;
  uint32_t n = (uint32_t)e->pos[0] | (uint32_t)e->pos[1] << 8;
  if ((uint32_t)(e->end - e->pos - 2) < n) return 0;
  out->ptr = e->pos + 2;
  out->len = n;
  e->pos += 2 + n;
  return 1;
}

/* Moves to the next event: 1 if there is one, 0 at the end or on malformed input (then `failed` is set). */
static inline int ea_events_next(ea_events *e) {
  if (e->failed) return 0;
  if (e->remaining == 0) {
    e->failed = e->pos != e->end;
    return 0;
  }
  e->remaining--;
  if (!ea_events_text(e, &e->partition) || !ea_events_text(e, &e->source) || e->end - e->pos < 12) {
    e->failed = 1;
    return 0;
  }
  __builtin_memcpy(&e->time_ms, e->pos, 8);
  uint32_t n;
  __builtin_memcpy(&n, e->pos + 8, 4);
  e->pos += 12;
  if ((uint32_t)(e->end - e->pos) < n) {
    e->failed = 1;
    return 0;
  }
  e->payload.ptr = e->pos;
  e->payload.len = n;
  e->pos += n;
  return 1;
}

/* ---- Wrappers over the imports ---- */

/* Reads a value through a get-style import (kv_get, config_get) into *out: 0, or an error code
 * (EA_ERROR_NOT_FOUND when absent). Retries with a buffer of the value's size when the first is too small. */
static inline int32_t ea_get_value(int32_t (*get)(const void *, int32_t, void *, int32_t), ea_bytes key, ea_bytes *out) {
  uint32_t cap = 256;
  for (;;) {
    uint8_t *buf = (uint8_t *)ea_malloc(cap);
    int32_t n = get(key.ptr, (int32_t)key.len, buf, (int32_t)cap);
    if (n < 0) return n;
    if ((uint32_t)n <= cap) {
      out->ptr = buf;
      out->len = (uint32_t)n;
      return 0;
    }
    cap = (uint32_t)n;
  }
}

/* The value under `key` in *out: 0, EA_ERROR_NOT_FOUND, or another error code. */
static inline int32_t ea_kv_read(ea_bytes key, ea_bytes *out) {
  return ea_get_value(ea_kv_get, key, out);
}

static inline int32_t ea_kv_write(ea_bytes key, ea_bytes value) {
  return ea_kv_put(key.ptr, (int32_t)key.len, value.ptr, (int32_t)value.len);
}

/* The config value of `key` in *out: 0, EA_ERROR_NOT_FOUND, or another error code. */
static inline int32_t ea_config_read(ea_bytes key, ea_bytes *out) {
  return ea_get_value(ea_config_get, key, out);
}

/* Logs a NUL-terminated message, cut to EA_LIMIT_LOG_BYTES. */
static inline int32_t ea_log_text(enum ea_level level, const char *message) {
  size_t n = ea_strlen(message);
  return ea_log(level, message, (int32_t)(n > EA_LIMIT_LOG_BYTES ? EA_LIMIT_LOG_BYTES : n));
}

/* Adds `value` to the counter `name` ([a-z0-9_], 1-64 bytes). */
static inline int32_t ea_metric(const char *name, double value) {
  return ea_metric_add(name, (int32_t)ea_strlen(name), value);
}

/* Appends an event: EA_APPEND_NEW / _DUPLICATE / _CONFLICT, or an error code. */
static inline int32_t ea_append_event(ea_bytes partition, ea_bytes source, double time_ms, ea_bytes payload) {
  return ea_event_append(partition.ptr, (int32_t)partition.len, source.ptr, (int32_t)source.len, time_ms, payload.ptr,
                         (int32_t)payload.len);
}

/* ---- The implementation: in exactly one file ---- */
#ifdef EA_GUEST_IMPLEMENTATION

extern unsigned char __heap_base;
/* The next free byte; 0 until the first allocation of a call (the host's reset puts it back to 0). */
static uintptr_t ea_heap_next;

void *ea_malloc(size_t n) {
  if (ea_heap_next == 0) ea_heap_next = (uintptr_t)&__heap_base;
  uintptr_t start = (ea_heap_next + 7) & ~(uintptr_t)7;
  uintptr_t end = start + n;
  if (end < start) __builtin_trap();
  uintptr_t have = __builtin_wasm_memory_size(0) * 65536;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1) __builtin_trap();
  ea_heap_next = end;
  return (void *)start;
}

/* The ea_alloc export: the host asks for a buffer for the input of a call. */
EA_EXPORT("ea_alloc") int32_t ea_alloc(int32_t len) {
  if (len < 0) __builtin_trap();
  return (int32_t)(uintptr_t)ea_malloc((size_t)len);
}

#endif /* EA_GUEST_IMPLEMENTATION */
#endif /* EA_GUEST_H */
