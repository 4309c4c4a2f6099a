//! `RegionStats`: the article's running count, sum and average per region, with min and max, and the fold
//! of new readings into it.
//!
//! The article adds each temperature to an `f64` sum; floating-point addition depends on the order, and the
//! event log hands readings over in any order (retries, other nodes, replays), so the sum is kept here as
//! an integer of micro-degrees, each reading rounded to 1e-6 degC half away from zero: the same rule as the
//! AssemblyScript aggregator (guests/aggregator/aggregate.ts), so the two agree to the bit on count, sum,
//! mean, min and max for the same set of readings.
//!
//! Record (kv value under "region:" + region), little-endian: u8 version=1 | u64 count | i64 sum_micro |
//! f64 min | f64 max.

use crate::names::{valid_device, valid_region};
use ea_guest::{kv, log, metrics, Error, EventBatch};

pub const MIN_TEMP: f64 = -273.15;
pub const MAX_TEMP: f64 = 1000.0;
pub const KEY_PREFIX: &[u8] = b"region:";
const RECORD_VERSION: u8 = 1;
const RECORD_LEN: usize = 33;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionStats {
    pub count: u64,
    pub sum_micro: i64,
    pub min: f64,
    pub max: f64,
}

impl Default for RegionStats {
    fn default() -> Self {
        RegionStats { count: 0, sum_micro: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl RegionStats {
    pub fn add(&mut self, temp: f64) {
        self.count += 1;
        self.sum_micro += to_micro(temp);
        self.min = self.min.min(temp);
        self.max = self.max.max(temp);
    }

    pub fn merge(&mut self, other: &RegionStats) {
        self.count += other.count;
        self.sum_micro += other.sum_micro;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn sum(&self) -> f64 {
        self.sum_micro as f64 / 1e6
    }

    /// The mean, `None` without readings (the article's average, which says 0.0 there).
    pub fn average(&self) -> Option<f64> {
        if self.count == 0 {
            None
        } else {
            Some(self.sum() / self.count as f64)
        }
    }

    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[0] = RECORD_VERSION;
        out[1..9].copy_from_slice(&self.count.to_le_bytes());
        out[9..17].copy_from_slice(&self.sum_micro.to_le_bytes());
        out[17..25].copy_from_slice(&self.min.to_le_bytes());
        out[25..33].copy_from_slice(&self.max.to_le_bytes());
        out
    }

    /// `None` for a record this version does not know.
    pub fn decode(bytes: &[u8]) -> Option<RegionStats> {
        if bytes.len() != RECORD_LEN || bytes[0] != RECORD_VERSION {
            return None;
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            w
        };
        Some(RegionStats {
            count: u64::from_le_bytes(word(1)),
            sum_micro: i64::from_le_bytes(word(9)),
            min: f64::from_le_bytes(word(17)),
            max: f64::from_le_bytes(word(25)),
        })
    }

    /// The stats of `region`, `None` if it has no readings yet.
    pub fn load(region: &[u8]) -> Result<Option<RegionStats>, Error> {
        match kv::get(key(region))? {
            None => Ok(None),
            Some(bytes) => RegionStats::decode(&bytes).map(Some).ok_or(Error::Invalid),
        }
    }
}

pub fn key(region: &[u8]) -> Vec<u8> {
    let mut k = KEY_PREFIX.to_vec();
    k.extend_from_slice(region);
    k
}

/// round(x * 1e6), half away from zero, computed exactly from the double x (|x| <= 1e9): the product is split
/// into p + e exactly (Dekker), so the rounding sees the true decimal value, not the rounded product.
pub fn to_micro(x: f64) -> i64 {
    let a = x.abs();
    let p = a * 1e6;
    // Veltkamp split of a into hi + lo (26 + 26 bits); 1e6 has 14 significant bits, so hi*1e6 and lo*1e6 are exact.
    let c = 134217729.0 * a;
    let hi = c - (c - a);
    let lo = a - hi;
    let e = (hi * 1e6 - p) + lo * 1e6; // a * 1e6 = p + e exactly
    let f = p.floor();
    let d = (p - f) - 0.5; // exact
    let mut r = f as i64;
    if d > 0.0 || (d == 0.0 && e >= 0.0) {
        r += 1;
    }
    if x < 0.0 {
        -r
    } else {
        r
    }
}

/// Why an event cannot be folded, if it cannot (a reading another version or node wrote differently).
fn skip_reason(partition: &[u8], source: &[u8], time: f64, payload: &[u8]) -> Option<&'static str> {
    if !valid_region(partition) {
        return Some("partition is not a valid region");
    }
    if !valid_device(source) {
        return Some("source is not a valid device id");
    }
    if !(0.0..9007199254740992.0).contains(&time) || time.floor() != time {
        return Some("time out of range");
    }
    if payload.len() != 8 {
        return Some("payload is not 8 bytes");
    }
    None
}

/// `ea_on_events`: folds the new readings into their regions' stats, one read and one write per region.
pub fn fold(batch: EventBatch) -> Result<(), Error> {
    let mut readings: Vec<(&[u8], f64)> = Vec::with_capacity(batch.remaining() as usize);
    let mut skipped = 0u32;
    for event in batch {
        let event = event.map_err(|_| Error::Invalid)?;
        let mut temp = 0.0;
        let reason = skip_reason(event.partition, event.source, event.time_ms, event.payload).or_else(|| {
            let mut b = [0u8; 8];
            b.copy_from_slice(event.payload);
            temp = f64::from_le_bytes(b) + 0.0; // -0 -> 0
            if (MIN_TEMP..=MAX_TEMP).contains(&temp) {
                None
            } else {
                Some("temperature out of range")
            }
        });
        match reason {
            None => readings.push((event.partition, temp)),
            Some(reason) => {
                if skipped < 10 {
                    let _ = log::warn(&(String::from("region-stats: skipped an event: ") + reason));
                }
                skipped += 1;
            }
        }
    }
    readings.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut i = 0;
    while i < readings.len() {
        let region = readings[i].0;
        let mut group = RegionStats::default();
        while i < readings.len() && readings[i].0 == region {
            group.add(readings[i].1);
            i += 1;
        }
        let mut stats = RegionStats::load(region)?.unwrap_or_default();
        stats.merge(&group);
        kv::put(key(region), stats.encode())?;
    }
    if !readings.is_empty() {
        let _ = metrics::add("events_folded", readings.len() as f64);
    }
    if skipped > 0 {
        let _ = metrics::add("events_skipped", skipped as f64);
    }
    Ok(())
}
