//! POST /v1/readings: validates readings (docs/api.md, with the AssemblyScript aggregator's rules and
//! messages) and appends the valid ones to the event log. Deduplication is the event log's: a retry is the
//! same `(device_id, timestamp)` and comes back `Duplicate`, however late or out of order it arrives (the
//! article's "drop anything not newer than the device's last timestamp" would lose delayed readings).

use crate::names::{valid_device, valid_region};
use crate::stats::{MAX_TEMP, MIN_TEMP};
use crate::{host_failure, settings::Settings};
use ea_guest::{events, metrics, Appended, Error, JsonReader, JsonWriter, Principal, Request, Response, Token};

pub const MAX_ITEMS: usize = 10000;
const MAX_SAFE: f64 = 9007199254740991.0;
const FIELDS: [&str; 4] = ["device_id", "region", "temperature_c", "timestamp"];
const DEVICE: usize = 0;
const REGION: usize = 1;
const TEMP: usize = 2;
const TIME: usize = 3;
/// The codes of rejected items, counted per code in the metric `readings_rejected_<code>`.
const CODES: [&str; 10] = [
    "invalid_type", "unknown_field", "duplicate_field", "missing_field", "invalid_format", "out_of_range",
    "timestamp_in_future", "too_late", "device_mismatch", "conflict",
];

/// What one item looked like.
#[derive(Default)]
struct Item {
    seen: [u32; 4],
    /// The JSON token of each field's first occurrence.
    kind: [Option<Token>; 4],
    device: Vec<u8>,
    region: Vec<u8>,
    temp: f64,
    time: f64,
    unknown: Option<Vec<u8>>,
    duplicate: Option<usize>,
    not_object: bool,
}

/// Why an item is rejected: its code, message and field.
struct Rejection {
    code: &'static str,
    message: String,
    field: Option<String>,
}

fn reject(code: &'static str, message: &str, field: Option<usize>) -> Rejection {
    Rejection { code, message: message.into(), field: field.map(|f| FIELDS[f].into()) }
}

/// Reads one item whose first token `t` was just returned; `None` if the JSON is malformed (already
/// checked by the first pass, so it is not).
fn parse_item(r: &mut JsonReader, t: Token) -> Option<Item> {
    let mut item = Item::default();
    if t != Token::BeginObject {
        item.not_object = true;
        return r.skip_value(t).then(|| item);
    }
    loop {
        match r.next() {
            Token::EndObject => return Some(item),
            Token::Key => {}
            _ => return None,
        }
        let field = FIELDS.iter().position(|f| f.as_bytes() == r.text());
        match field {
            None if item.unknown.is_none() => item.unknown = Some(r.text().to_vec()),
            None => {}
            Some(f) => {
                item.seen[f] += 1;
                if item.seen[f] == 2 && item.duplicate.is_none() {
                    item.duplicate = Some(f);
                }
            }
        }
        let v = r.next();
        if let Some(f) = field.filter(|&f| item.seen[f] == 1) {
            item.kind[f] = Some(v);
            match (f, v) {
                (DEVICE, Token::String) => item.device = r.text().to_vec(),
                (REGION, Token::String) => item.region = r.text().to_vec(),
                (TEMP, Token::Number) => item.temp = r.number(),
                (TIME, Token::Number) => item.time = r.number(),
                _ => {}
            }
        }
        if !r.skip_value(v) {
            return None;
        }
    }
}

fn check(item: &Item, s: &Settings, req: &Request) -> Result<(), Rejection> {
    if item.not_object {
        return Err(reject("invalid_type", "each reading must be a JSON object with device_id, region, temperature_c and timestamp", None));
    }
    if let Some(name) = &item.unknown {
        let message = "unknown field: a reading has exactly the fields device_id, region, temperature_c and timestamp";
        return Err(Rejection { code: "unknown_field", message: message.into(), field: Some(String::from_utf8_lossy(name).into_owned()) });
    }
    if let Some(f) = item.duplicate {
        return Err(reject("duplicate_field", "the field appears more than once in this reading", Some(f)));
    }
    for f in 0..4 {
        let want = if f <= REGION { Token::String } else { Token::Number };
        if item.seen[f] == 0 {
            return Err(Rejection { code: "missing_field", message: String::from(FIELDS[f]) + " is required", field: Some(FIELDS[f].into()) });
        }
        if item.kind[f] != Some(want) {
            let kind = if f <= REGION { " must be a string" } else { " must be a number" };
            return Err(Rejection { code: "invalid_type", message: String::from(FIELDS[f]) + kind, field: Some(FIELDS[f].into()) });
        }
        let verdict = match f {
            DEVICE if !valid_device(&item.device) => Some(("invalid_format", "device_id must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")),
            REGION if !valid_region(&item.region) => Some(("invalid_format", "region must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")),
            TEMP if !(MIN_TEMP..=MAX_TEMP).contains(&item.temp) => Some(("out_of_range", "temperature_c must be a finite number from -273.15 to 1000")),
            TIME if !item.time.is_finite() || item.time.floor() != item.time => {
                Some(("invalid_format", "timestamp must be an integer number of milliseconds since the Unix epoch"))
            }
            TIME if !(0.0..=MAX_SAFE).contains(&item.time) => {
                Some(("out_of_range", "timestamp must be from 0 to 9007199254740991 (milliseconds since the Unix epoch)"))
            }
            _ => None,
        };
        if let Some((code, message)) = verdict {
            return Err(reject(code, message, Some(f)));
        }
    }
    if item.time > s.now + s.max_future_ms {
        return Err(Rejection { code: "timestamp_in_future", message: s.future_message(), field: Some(FIELDS[TIME].into()) });
    }
    if item.time < s.now - s.grace_period_ms {
        return Err(Rejection { code: "too_late", message: s.late_message(), field: Some(FIELDS[TIME].into()) });
    }
    if req.principal == Principal::Device && item.device != req.subject {
        return Err(reject("device_mismatch", "device_id does not match the device this token was issued to", Some(DEVICE)));
    }
    Ok(())
}

/// The results of a batch, written as the items are processed.
struct Batch {
    results: JsonWriter,
    accepted: u32,
    duplicates: u32,
    rejected: u32,
    by_code: [u32; CODES.len()],
}

impl Batch {
    fn status(&mut self, status: &str) {
        self.results.begin_object();
        self.results.key_string("status", status);
        self.results.end_object();
    }

    fn rejected(&mut self, r: Rejection) {
        self.rejected += 1;
        if let Some(i) = CODES.iter().position(|&c| c == r.code) {
            self.by_code[i] += 1;
        }
        let w = &mut self.results;
        w.begin_object();
        w.key_string("status", "rejected");
        w.key("error");
        w.begin_object();
        w.key_string("code", r.code);
        w.key_string("message", &r.message);
        if let Some(field) = &r.field {
            w.key_string("field", field);
        }
        w.end_object();
        w.end_object();
    }

    /// Checks and appends one item; `Err` is the response that ends the whole request.
    fn finish(&mut self, item: Item, s: &Settings, req: &Request) -> Result<(), Response> {
        if let Err(r) = check(&item, s, req) {
            self.rejected(r);
            return Ok(());
        }
        let payload = (item.temp + 0.0).to_le_bytes(); // -0 -> 0: the same reading
        match events::append(&item.region, &item.device, item.time as u64, &payload) {
            Ok(Appended::New) => {
                self.accepted += 1;
                self.status("accepted");
            }
            Ok(Appended::Duplicate) => {
                self.duplicates += 1;
                self.status("duplicate");
            }
            Ok(Appended::Conflict) => self.rejected(reject(
                "conflict",
                "a different reading with this device_id and timestamp was already accepted; the first one is kept",
                None,
            )),
            Err(Error::Denied) if self.accepted + self.duplicates == 0 => return Err(host_failure(Error::Denied, "events")),
            Err(Error::Unavailable) => return Err(host_failure(Error::Unavailable, "events")),
            // Any other refusal fails the whole call, so that the host rolls back what was appended so far.
            Err(e) => panic!("event_append failed: {}", e.name()),
        }
        Ok(())
    }

    fn response(self) -> Response {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key_int("accepted", self.accepted as i64);
        w.key_int("duplicates", self.duplicates as i64);
        w.key_int("rejected", self.rejected as i64);
        w.key("results");
        let mut body = w.into_bytes();
        body.extend_from_slice(&self.results.into_bytes());
        body.push(b'}');
        if self.accepted > 0 {
            let _ = metrics::add("readings_accepted", self.accepted as f64);
        }
        if self.duplicates > 0 {
            let _ = metrics::add("readings_duplicate", self.duplicates as f64);
        }
        for (code, &n) in CODES.iter().zip(self.by_code.iter()).filter(|(_, &n)| n > 0) {
            let _ = metrics::add(&(String::from("readings_rejected_") + code), n as f64);
        }
        let status = if self.accepted + self.duplicates == 0 { 422 } else { 200 };
        Response::new(status, "application/json", body)
    }
}

fn batch_error(status: u16, code: &str, message: &str) -> Response {
    let _ = metrics::add(&(String::from("batches_rejected_") + code), 1.0);
    Response::error(status, code, message)
}

/// POST /v1/readings (application/json: one reading or an array of them).
pub fn post(req: &Request) -> Response {
    if !req.content_type_is("application/json") {
        return batch_error(415, "unsupported_media_type", "send readings as application/json (an object or an array)");
    }
    // Pass 1: the whole body must be JSON; count the items.
    let mut r = JsonReader::new(req.body);
    let mut t = r.next();
    let is_array = t == Token::BeginArray;
    let mut items = 1;
    if is_array {
        items = 0;
        loop {
            t = r.next();
            if t == Token::EndArray || t == Token::Error {
                break;
            }
            items += 1;
            if !r.skip_value(t) {
                t = Token::Error;
                break;
            }
        }
    }
    let malformed = if is_array { t == Token::Error } else { !r.skip_value(t) };
    if malformed || r.next() != Token::End {
        let mut message = String::from("the body is not valid JSON: ");
        message.push_str(r.error());
        message.push_str(" at byte ");
        let mut offset = Vec::new();
        ea_guest::json::write_int(&mut offset, r.error_offset() as i64);
        message.push_str(core::str::from_utf8(&offset).unwrap_or("?"));
        return batch_error(400, "invalid_json", &message);
    }
    if items > MAX_ITEMS {
        return batch_error(413, "batch_too_large", "a batch holds at most 10000 readings; split it");
    }
    if items == 0 {
        return batch_error(400, "empty_batch", "the batch has no readings");
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(response) => return response,
    };
    // Pass 2: process the items.
    let mut batch = Batch { results: JsonWriter::new(), accepted: 0, duplicates: 0, rejected: 0, by_code: [0; CODES.len()] };
    batch.results.begin_array();
    let mut r = JsonReader::new(req.body);
    let first = r.next();
    let mut next = if is_array { r.next() } else { first };
    while next != Token::EndArray && next != Token::End {
        let item = match parse_item(&mut r, next) {
            Some(item) => item,
            None => panic!("readings: the second pass found JSON the first accepted"),
        };
        if let Err(response) = batch.finish(item, &settings, req) {
            return response;
        }
        next = if is_array { r.next() } else { Token::End };
    }
    batch.results.end_array();
    batch.response()
}
