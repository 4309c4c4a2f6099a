//! The edge-aggregator guest SDK for Rust, for guest ABI v1 (docs/abi.md). No dependencies, no cargo, no
//! wasm-bindgen: the ABI is a handful of plain imports, so the SDK calls them directly. A complete guest:
//!
//! ```ignore
//! use ea_guest::{http_handler, Request, Response, JsonWriter};
//!
//! fn handle(req: &Request) -> Response {
//!     let name = req.param("name").unwrap_or_else(|| b"world".to_vec());
//!     let mut w = JsonWriter::new();
//!     w.begin_object();
//!     w.key("hello");
//!     w.string_bytes(&name);
//!     w.end_object();
//!     Response::json(200, w)
//! }
//!
//! http_handler!(handle);
//! ```
//!
//! Every host call returns `Result<_, Error>`; reads of absent keys are `Ok(None)`. A panic logs its message
//! through `ea.log` and traps: the host rolls back every write of the call and reports `guest_trap`.
//! Build with scripts/build-native-guests.mjs (guests/rust/README.md has the exact `rustc` commands).

pub mod abi;
pub mod error;
pub mod events;
mod host;
pub mod http;
pub mod json;
pub mod kv;
pub mod number;
#[doc(hidden)]
pub mod runtime;

pub use abi::{Method, Principal, ABI_VERSION};
pub use error::Error;
pub use events::{Appended, Event, EventBatch};
pub use host::{clock, config, log, metrics};
pub use http::{percent_decode, IntoResponse, Request, Response};
pub use json::{JsonReader, JsonWriter, Token};
