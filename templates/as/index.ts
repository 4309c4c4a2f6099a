// {{name}}: answers GET with a JSON greeting and counts the calls in the key-value store.
//   GET /?name=<who>   {"hello":"<who>","calls":<n>}
import { Request, Response, Method, JsonWriter, kv } from "{{sdk}}";

export { ea_alloc } from "{{sdk}}";

export function ea_on_http(ptr: i32, len: i32): i32 {
  const req = Request.read(ptr, len);
  if (req.method != Method.GET) return Response.error(405, "method_not_allowed", "only GET").frame();
  const stored = kv.getString("calls");
  const calls = (stored === null ? 0 : I64.parseInt(stored)) + 1;
  kv.put("calls", calls.toString());
  const who = req.param("name");
  const w = new JsonWriter();
  w.beginObject();
  w.keyString("hello", who === null ? "{{name}}" : who);
  w.keyInt("calls", calls);
  w.endObject();
  return Response.json(200, w).frame();
}
