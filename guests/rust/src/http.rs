//! The `ea_on_http` envelope (docs/abi.md) as a [`Request`], and a [`Response`] encoded into the response
//! frame. Text fields are raw bytes borrowed from the input (the path is still percent-encoded); the helpers
//! decode them.

use crate::abi::{Method, Principal};
use crate::error::Error;
use crate::json::JsonWriter;

/// An HTTP request, borrowed from the call's input.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: Method,
    pub principal: Principal,
    /// The path exactly as received: percent-encoded, without the query string.
    pub path: &'a [u8],
    /// The raw query string, without `?`.
    pub query: &'a [u8],
    /// The media type only, lower case, without parameters; empty when absent.
    pub content_type: &'a [u8],
    /// The token's subject: for a device token, its device id.
    pub subject: &'a [u8],
    pub body: &'a [u8],
}

fn u16_at(b: &[u8], pos: usize) -> Option<usize> {
    Some(u16::from_le_bytes([*b.get(pos)?, *b.get(pos + 1)?]) as usize)
}

impl<'a> Request<'a> {
    /// Decodes an envelope; `None` when it is malformed (a host bug).
    pub fn parse(input: &'a [u8]) -> Option<Request<'a>> {
        if input.len() < 4 + 2 * 4 + 4 || input[0] != 1 {
            return None;
        }
        let method = match input[1] {
            1 => Method::Get,
            2 => Method::Post,
            3 => Method::Put,
            4 => Method::Delete,
            5 => Method::Head,
            _ => Method::Other,
        };
        let principal = match input[2] {
            1 => Principal::Device,
            2 => Principal::Gateway,
            3 => Principal::Read,
            4 => Principal::Admin,
            _ => Principal::Anonymous,
        };
        let mut pos = 4;
        let mut fields: [&'a [u8]; 4] = [&[]; 4];
        for field in fields.iter_mut() {
            let n = u16_at(input, pos)?;
            *field = input.get(pos + 2..pos + 2 + n)?;
            pos += 2 + n;
        }
        let len = input.get(pos..pos + 4)?;
        let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if input.len() - (pos + 4) != n {
            return None;
        }
        let [path, query, content_type, subject] = fields;
        Some(Request { method, principal, path, query, content_type, subject, body: &input[pos + 4..] })
    }

    /// Whether the path is exactly `s`.
    pub fn path_is(&self, s: &str) -> bool {
        self.path == s.as_bytes()
    }

    /// The path after `prefix`, percent-decoded; `None` if the path does not start with it.
    pub fn path_after(&self, prefix: &str) -> Option<Vec<u8>> {
        self.path.strip_prefix(prefix.as_bytes()).map(|rest| percent_decode(rest, false))
    }

    /// Whether the content type is exactly `s` (e.g. "application/json").
    pub fn content_type_is(&self, s: &str) -> bool {
        self.content_type == s.as_bytes()
    }

    /// The query parameter `name`, percent-decoded ('+' is a space); `None` if absent. The first one wins.
    pub fn param(&self, name: &str) -> Option<Vec<u8>> {
        self.params().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| percent_decode(v, true))
    }

    /// The `name=value` pairs of the query string, raw (not decoded); empty pairs are skipped.
    pub fn params(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.query.split(|&c| c == b'&').filter(|p| !p.is_empty()).map(|pair| match pair.iter().position(|&c| c == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes bytes (invalid escapes are kept as they are).
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && c == b'+' { b' ' } else { c });
        i += 1;
    }
    out
}

/// An HTTP response: what a handler returns.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// An ASCII media type (the host refuses anything else).
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response { status, content_type, body }
    }

    /// No body.
    pub fn empty(status: u16) -> Response {
        Response::new(status, "", Vec::new())
    }

    /// A text/plain UTF-8 body.
    pub fn text(status: u16, text: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", text.as_bytes().to_vec())
    }

    /// An application/json body from a writer.
    pub fn json(status: u16, w: JsonWriter) -> Response {
        Response::new(status, "application/json", w.into_bytes())
    }

    /// `{"error":{"code":code,"message":message}}` as application/json.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("error");
        w.begin_object();
        w.key_string("code", code);
        w.key_string("message", message);
        w.end_object();
        w.end_object();
        Response::json(status, w)
    }

    /// The JSON error for a failed host call: the error's usual status (see [`Error::http_status`]) and its
    /// name in lower case as the code.
    pub fn host_error(e: Error) -> Response {
        let name = e.name().to_ascii_lowercase();
        let mut message = String::from("a host call failed with ");
        message.push_str(e.name());
        Response::error(e.http_status(), &name, &message)
    }

    /// Encodes the response frame in guest memory and returns its address: the return value of
    /// `ea_on_http`. The frame is never freed (the host resets memory after the call).
    pub fn frame(self) -> i32 {
        let ct = self.content_type.as_bytes();
        let mut frame = Vec::with_capacity(8 + ct.len() + self.body.len());
        frame.extend_from_slice(&((4 + ct.len() + self.body.len()) as u32).to_le_bytes());
        frame.extend_from_slice(&self.status.to_le_bytes());
        frame.extend_from_slice(&(ct.len() as u16).to_le_bytes());
        frame.extend_from_slice(ct);
        frame.extend_from_slice(&self.body);
        let ptr = frame.as_ptr() as i32;
        core::mem::forget(frame);
        ptr
    }
}

/// What an HTTP handler may return: a [`Response`], or a `Result` whose error becomes
/// [`Response::host_error`].
pub trait IntoResponse {
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Result<Response, Error> {
    fn into_response(self) -> Response {
        self.unwrap_or_else(Response::host_error)
    }
}
