//! A test fixture (build/test-guests/rust-panics.wasm): how panics and errors of a Rust guest reach the host.
//! test/abi/rust-guests.test.ts drives it.
//!
//!   /ok            200 "ok"
//!   /panic         writes kv "written", then panics with a message
//!   /index?i=<n>   indexes a 4-byte array at n (panics past the end)
//!   /alloc?mb=<n>  allocates and touches n MiB (past the memory maximum, the allocation fails)
//!   /kv-error      a host error returned as the handler's `Err`: the SDK's JSON error response
//!   ea_on_events   payload "panic" panics, "refuse" returns Err, anything else is counted under kv "events"

use ea_guest::{events_handler, http_handler, kv, Error, EventBatch, Request, Response};

http_handler!(handle);
events_handler!(fold);

fn number(req: &Request, name: &str) -> usize {
    req.param(name).and_then(|v| core::str::from_utf8(&v).ok()?.parse().ok()).unwrap_or(0)
}

fn handle(req: &Request) -> Result<Response, Error> {
    if req.path_is("/panic") {
        kv::put("written", "yes")?;
        panic!("the guest gave up on {}", "purpose");
    }
    if req.path_is("/index") {
        let bytes = [1u8, 2, 3, 4];
        let i = number(req, "i");
        return Ok(Response::text(200, if bytes[i] > 0 { "in bounds" } else { "zero" }));
    }
    if req.path_is("/alloc") {
        let mut v: Vec<u8> = Vec::with_capacity(number(req, "mb") << 20);
        v.resize(v.capacity(), 1);
        return Ok(Response::text(200, "allocated"));
    }
    if req.path_is("/kv-error") {
        kv::put("", "an empty key is INVALID")?;
    }
    Ok(Response::text(200, "ok"))
}

fn fold(batch: EventBatch) -> Result<(), Error> {
    let mut n = 0u32;
    for event in batch {
        let event = event.map_err(|_| Error::Invalid)?;
        match event.payload {
            b"panic" => panic!("cannot fold this event"),
            b"refuse" => return Err(Error::Invalid),
            _ => n += 1,
        }
    }
    kv::put("events", n.to_string())
}
