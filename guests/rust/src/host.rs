//! The small capabilities: `log`, `clock`, `config` and `metrics` (docs/abi.md, "Host imports").

/// The `log` capability: messages go to the node's structured log with the module's name and version.
pub mod log {
    use crate::abi::{ea_log, limits, log_level};
    use crate::error::{check, Error};

    /// Logs `message` at `level` (a `log_level` constant), cut to `limits::LOG_BYTES` on a character
    /// boundary.
    pub fn write(level: i32, message: &str) -> Result<(), Error> {
        let mut n = message.len().min(limits::LOG_BYTES);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        check(unsafe { ea_log(level, message.as_ptr(), n as i32) }).map(|_| ())
    }

    pub fn debug(message: &str) -> Result<(), Error> {
        write(log_level::DEBUG, message)
    }

    pub fn info(message: &str) -> Result<(), Error> {
        write(log_level::INFO, message)
    }

    pub fn warn(message: &str) -> Result<(), Error> {
        write(log_level::WARN, message)
    }

    pub fn error(message: &str) -> Result<(), Error> {
        write(log_level::ERROR, message)
    }
}

/// The `clock` capability.
pub mod clock {
    use crate::abi::ea_clock_now_ms;
    use crate::error::Error;

    /// Wall-clock milliseconds since the Unix epoch.
    pub fn now_ms() -> Result<u64, Error> {
        let t = unsafe { ea_clock_now_ms() };
        if t < 0.0 {
            return Err(Error::from_code(t as i32));
        }
        Ok(t as u64)
    }
}

/// The `config` capability: the operator's settings for the module (strings by name).
pub mod config {
    use crate::abi::ea_config_get;
    use crate::error::Error;
    use crate::kv::read_value;

    /// The value of `key` as bytes, or `None` if it is unset.
    pub fn get_bytes(key: &str) -> Result<Option<Vec<u8>>, Error> {
        read_value(key.as_bytes(), ea_config_get)
    }

    /// The value of `key`, or `None` if it is unset (the host hands out UTF-8).
    pub fn get(key: &str) -> Result<Option<String>, Error> {
        Ok(get_bytes(key)?.map(|v| String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())))
    }
}

/// The `metrics` capability: counters named by the guest, exported as `edgeagg_guest_<name>_total`.
pub mod metrics {
    use crate::abi::ea_metric_add;
    use crate::error::{check, Error};

    /// Adds `value` to the counter `name` (`[a-z0-9_]`, 1-64 bytes; at most 64 names per module). Counted
    /// only if the call succeeds.
    pub fn add(name: &str, value: f64) -> Result<(), Error> {
        check(unsafe { ea_metric_add(name.as_ptr(), name.len() as i32, value) }).map(|_| ())
    }
}
