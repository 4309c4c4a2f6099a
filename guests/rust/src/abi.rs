//! Raw host imports of guest ABI v1 (docs/abi.md), the error codes, the limits and the enumerations.
//!
//! Most code should use the safe wrappers ([`crate::kv`], [`crate::events`], ...); these are here for guests
//! that need the exact calls, and for the wrappers themselves.
//!
//! The host declares the same contract in src/runtime/abi.ts. Rust cannot import it, so this is a copy, and
//! test/abi/abi-agreement.test.ts fails, naming the constant, when the two disagree: every import (module,
//! name, signature), `ABI_VERSION`, `error_code`, `limits`, `append_result`, `log_level`, `Method` and
//! `Principal`. Write every value as a plain integer literal so that the test can read it.

/// The version of the guest ABI this SDK speaks.
pub const ABI_VERSION: i32 = 1;

#[link(wasm_import_module = "ea")]
extern "C" {
    #[link_name = "log"]
    pub fn ea_log(level: i32, ptr: *const u8, len: i32) -> i32;
    #[link_name = "clock_now_ms"]
    pub fn ea_clock_now_ms() -> f64;
    #[link_name = "config_get"]
    pub fn ea_config_get(key_ptr: *const u8, key_len: i32, out_ptr: *mut u8, out_cap: i32) -> i32;
    #[link_name = "kv_get"]
    pub fn ea_kv_get(key_ptr: *const u8, key_len: i32, out_ptr: *mut u8, out_cap: i32) -> i32;
    #[link_name = "kv_put"]
    pub fn ea_kv_put(key_ptr: *const u8, key_len: i32, val_ptr: *const u8, val_len: i32) -> i32;
    #[link_name = "kv_delete"]
    pub fn ea_kv_delete(key_ptr: *const u8, key_len: i32) -> i32;
    #[link_name = "kv_list"]
    pub fn ea_kv_list(
        prefix_ptr: *const u8, prefix_len: i32, after_ptr: *const u8, after_len: i32, out_ptr: *mut u8, out_cap: i32,
    ) -> i32;
    #[link_name = "event_append"]
    pub fn ea_event_append(
        part_ptr: *const u8, part_len: i32, src_ptr: *const u8, src_len: i32, time_ms: f64, payload_ptr: *const u8,
        payload_len: i32,
    ) -> i32;
    #[link_name = "metric_add"]
    pub fn ea_metric_add(name_ptr: *const u8, name_len: i32, value: f64) -> i32;
}

/// The closed set of error codes every import can return (docs/abi.md, "Error codes").
pub mod error_code {
    pub const NOT_FOUND: i32 = -1;
    pub const DENIED: i32 = -2;
    pub const OUT_OF_BOUNDS: i32 = -3;
    pub const TOO_LARGE: i32 = -4;
    pub const INVALID: i32 = -5;
    pub const UNAVAILABLE: i32 = -6;
    pub const QUOTA: i32 = -7;

    /// The ABI name of a code, e.g. "UNAVAILABLE".
    pub fn name(code: i32) -> &'static str {
        match code {
            NOT_FOUND => "NOT_FOUND",
            DENIED => "DENIED",
            OUT_OF_BOUNDS => "OUT_OF_BOUNDS",
            TOO_LARGE => "TOO_LARGE",
            INVALID => "INVALID",
            UNAVAILABLE => "UNAVAILABLE",
            QUOTA => "QUOTA",
            _ => "UNKNOWN",
        }
    }
}

/// The host's limits (docs/abi.md, "Limits"): an argument over one gets TOO_LARGE, or INVALID below a minimum.
pub mod limits {
    pub const KEY_BYTES: usize = 512;
    pub const VALUE_BYTES: usize = 1048576;
    pub const PARTITION_BYTES: usize = 64;
    pub const SOURCE_BYTES: usize = 128;
    pub const PAYLOAD_BYTES: usize = 4096;
    pub const LOG_BYTES: usize = 4096;
    pub const CONFIG_KEY_BYTES: usize = 128;
    pub const METRIC_NAME_BYTES: usize = 64;
    /// Distinct counter names per module.
    pub const METRIC_NAMES: usize = 64;
    pub const EVENTS_PER_CALL: usize = 100000;
    /// Events handed to one `ea_on_events` call; the host splits larger sets.
    pub const EVENTS_PER_FOLD: usize = 10000;
    pub const HOST_CALLS_PER_CALL: usize = 1000000;
    /// The smallest kv_list output buffer: one key of the largest size and its length prefix.
    pub const LIST_BUFFER_MIN: usize = 514;
    pub const TABLE_ENTRIES: usize = 100000;
}

/// What `event_append` returns when it succeeds (APPEND_RESULT on the host).
pub mod append_result {
    pub const NEW: i32 = 0;
    pub const DUPLICATE: i32 = 1;
    pub const CONFLICT: i32 = 2;
}

/// The levels of the `log` import (LOG_LEVEL on the host).
pub mod log_level {
    pub const DEBUG: i32 = 0;
    pub const INFO: i32 = 1;
    pub const WARN: i32 = 2;
    pub const ERROR: i32 = 3;
}

/// The request method as the envelope encodes it; `Other` is any method the ABI does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Method {
    Other = 0,
    Get = 1,
    Post = 2,
    Put = 3,
    Delete = 4,
    Head = 5,
}

/// Who the host authenticated the request as (the token's kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Principal {
    Anonymous = 0,
    Device = 1,
    Gateway = 2,
    Read = 3,
    Admin = 4,
}
