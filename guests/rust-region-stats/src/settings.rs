//! Per-call settings: the clock and the config keys the AssemblyScript aggregator reads (with its defaults).

use crate::host_failure;
use ea_guest::{clock, config, log, Response};

pub const DEFAULT_GRACE_PERIOD_MS: f64 = 604800000.0; // 7 days
pub const DEFAULT_MAX_FUTURE_MS: f64 = 300000.0; // 5 minutes

pub struct Settings {
    pub now: f64,
    pub grace_period_ms: f64,
    pub max_future_ms: f64,
}

fn digits(v: f64) -> String {
    let mut out = Vec::new();
    ea_guest::json::write_int(&mut out, v as i64);
    String::from_utf8(out).unwrap_or_default()
}

/// A non-negative integer config value, `fallback` when unset.
fn read_ms(key: &str, fallback: f64) -> Result<f64, Response> {
    let value = match config::get(key) {
        Ok(None) => return Ok(fallback),
        Ok(Some(v)) => v,
        Err(e) => return Err(host_failure(e, "config")),
    };
    match value.parse::<u64>() {
        Ok(ms) if !value.starts_with('+') && ms < 1 << 53 => Ok(ms as f64),
        _ => {
            let message = format!("config {} must be a non-negative integer (milliseconds), got \"{}\"", key, value);
            let _ = log::error(&(String::from("region-stats: ") + &message));
            Err(Response::error(500, "invalid_config", &message))
        }
    }
}

impl Settings {
    /// The settings, or the response to answer with when they cannot be read.
    pub fn load() -> Result<Settings, Response> {
        let now = clock::now_ms().map_err(|e| host_failure(e, "clock"))? as f64;
        let grace_period_ms = read_ms("grace_period_ms", DEFAULT_GRACE_PERIOD_MS)?;
        let max_future_ms = read_ms("max_future_ms", DEFAULT_MAX_FUTURE_MS)?;
        Ok(Settings { now, grace_period_ms, max_future_ms })
    }

    pub fn future_message(&self) -> String {
        format!("timestamp is more than {} ms ahead of the server clock; check the device's clock", digits(self.max_future_ms))
    }

    pub fn late_message(&self) -> String {
        format!("timestamp is older than the grace period of {} ms; readings that late are no longer aggregated", digits(self.grace_period_ms))
    }
}
