/* {{name}}: answers GET with a JSON greeting and counts the calls in the key-value store.
 *   GET /?name=<who>   {"hello":"<who>","calls":<n>}
 */
#define EA_GUEST_IMPLEMENTATION
#include "ea_guest.h"

EA_EXPORT("ea_on_http") int32_t ea_on_http(int32_t ptr, int32_t len) {
  ea_request req;
  if (!ea_request_parse((const uint8_t *)(uintptr_t)ptr, len, &req)) __builtin_trap();
  if (req.method != EA_METHOD_GET) return ea_respond_error(405, "method_not_allowed", "only GET");
  ea_bytes stored;
  int64_t calls = ea_kv_read(ea_str("calls"), &stored) == 0 ? ea_parse_uint(stored) : 0;
  if (calls < 0) calls = 0;
  calls += 1;
  ea_buf count = {0, 0, 0};
  ea_buf_int(&count, calls);
  int32_t r = ea_kv_write(ea_str("calls"), (ea_bytes){count.ptr, count.len});
  if (r < 0) return ea_respond_error(500, "kv", ea_error_name(r));
  ea_bytes who;
  if (!ea_query_param(&req, "name", &who)) who = ea_str("{{name}}");
  ea_buf b = {0, 0, 0};
  ea_buf_str(&b, "{\"hello\":");
  ea_buf_json_string(&b, who);
  ea_buf_str(&b, ",\"calls\":");
  ea_buf_int(&b, calls);
  ea_buf_byte(&b, '}');
  return ea_respond(200, "application/json", b.ptr, b.len);
}
