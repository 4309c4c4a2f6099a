//! {{name}}: answers GET with a JSON greeting and counts the calls in the key-value store.
//!   GET /?name=<who>   {"hello":"<who>","calls":<n>}
use ea_guest::{http_handler, kv, Error, JsonWriter, Method, Request, Response};

fn handle(req: &Request) -> Result<Response, Error> {
    if req.method != Method::Get {
        return Ok(Response::error(405, "method_not_allowed", "only GET"));
    }
    let calls = match kv::get("calls")? {
        Some(v) => core::str::from_utf8(&v).ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0),
        None => 0,
    } + 1;
    kv::put("calls", calls.to_string())?;
    let who = req.param("name").unwrap_or_else(|| b"{{name}}".to_vec());
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("hello");
    w.string_bytes(&who);
    w.key_int("calls", calls);
    w.end_object();
    Ok(Response::json(200, w))
}

http_handler!(handle);
