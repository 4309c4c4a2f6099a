//! JSON: a small writer (escaping identical to `JSON.stringify`; numbers in the shortest form that
//! `JSON.parse` reads back as the same double, see [`crate::number`]) and a strict pull reader for untrusted
//! input (RFC 8259, nesting limit [`MAX_DEPTH`]).

mod reader;
mod writer;

pub use reader::{JsonReader, Token, MAX_DEPTH};
pub use writer::{write_int, JsonWriter};
