//! The article's edge sensor aggregation service, written in Rust against the project's guest SDK
//! (guests/rust): readings per region with count, sum and average (`RegionStats`), plus min and max.
//! Unlike the article it deduplicates through the event log, not with a per-device last timestamp, and it
//! agrees with the AssemblyScript aggregator on count, sum, mean, min and max for the same readings
//! (test/guests/rust-region-stats.test.ts).
//!
//!   POST /v1/readings          one reading or an array: {"accepted":n,"duplicates":n,"rejected":n,"results":[...]}
//!   GET  /v1/regions           {"regions":[R, ...]} sorted by region
//!   GET  /v1/regions/{region}  R = {"region","count","sum","mean","min","max"}, 404 if it has no readings
//!
//! Readings are appended as events (partition region, source device_id, time timestamp, payload the
//! temperature as f64 LE, the same events as the AssemblyScript aggregator's); `ea_on_events` folds the new
//! ones into the region's `RegionStats` in kv.

mod names;
mod readings;
mod settings;
mod stats;

use ea_guest::{events_handler, http_handler, kv, Error, JsonWriter, Method, Request, Response};
use stats::{RegionStats, KEY_PREFIX};

http_handler!(route);
events_handler!(stats::fold);

fn route(req: &Request) -> Response {
    let read = req.method == Method::Get || req.method == Method::Head;
    if req.path_is("/v1/readings") {
        if req.method != Method::Post {
            return method_not_allowed("POST");
        }
        return readings::post(req);
    }
    if req.path_is("/v1/regions") {
        if !read {
            return method_not_allowed("GET");
        }
        return list_regions().unwrap_or_else(|e| host_failure(e, "kv"));
    }
    if let Some(region) = req.path_after("/v1/regions/") {
        if !req.path[12..].contains(&b'/') {
            if !read {
                return method_not_allowed("GET");
            }
            return get_region(&region).unwrap_or_else(|e| host_failure(e, "kv"));
        }
    }
    Response::error(404, "not_found", "no such resource; see the API reference (docs/api.md)")
}

fn write_region(w: &mut JsonWriter, region: &[u8], s: &RegionStats) {
    w.begin_object();
    w.key("region");
    w.string_bytes(region);
    w.key_int("count", s.count as i64);
    w.key_number("sum", s.sum());
    match s.average() {
        Some(mean) => w.key_number("mean", mean),
        None => w.key_null("mean"),
    }
    w.key_number("min", s.min);
    w.key_number("max", s.max);
    w.end_object();
}

fn get_region(region: &[u8]) -> Result<Response, Error> {
    let stats = match RegionStats::load(region)? {
        Some(s) => s,
        None => return Ok(Response::error(404, "not_found", "no readings for this region")),
    };
    let mut w = JsonWriter::new();
    write_region(&mut w, region, &stats);
    Ok(Response::json(200, w))
}

fn list_regions() -> Result<Response, Error> {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("regions");
    w.begin_array();
    for key in kv::keys(KEY_PREFIX) {
        let key = key?;
        let region = &key[KEY_PREFIX.len()..];
        if let Some(stats) = RegionStats::load(region)? {
            write_region(&mut w, region, &stats);
        }
    }
    w.end_array();
    w.end_object();
    Ok(Response::json(200, w))
}

fn method_not_allowed(allowed: &str) -> Response {
    Response::error(405, "method_not_allowed", &(String::from("this path only supports ") + allowed))
}

/// The response for a host call that failed in a way the client cannot fix (the AssemblyScript aggregator's
/// wording).
pub(crate) fn host_failure(e: Error, capability: &str) -> Response {
    match e {
        Error::Denied => Response::error(
            500,
            "capability_denied",
            &format!("the region-stats module was not granted the '{}' capability; grant it in the node's deploy configuration", capability),
        ),
        Error::Quota => Response::error(503, "quota_exceeded", "the request needed more host calls than a call may make; send smaller batches"),
        Error::Unavailable => Response::error(503, "unavailable", "the store is unavailable; retry later"),
        e => Response::error(500, "internal_error", &format!("a host call ({}) failed with {}", capability, e.name())),
    }
}
