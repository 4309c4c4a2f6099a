// Per-call settings: the clock and the config keys (with their defaults when unset).

import { clock, config, log, lastError, AbiError, Response, parseUint } from "../sdk";
import { hostFailure } from "./errors";

export const DEFAULT_GRACE_PERIOD_MS: f64 = 604800000; // 7 days
export const DEFAULT_MAX_FUTURE_MS: f64 = 300000; // 5 minutes
export const DEFAULT_MAX_REGIONS: f64 = 10000;

export class Settings {
  now: f64 = 0;
  gracePeriodMs: f64 = DEFAULT_GRACE_PERIOD_MS;
  maxFutureMs: f64 = DEFAULT_MAX_FUTURE_MS;
  /** How many regions this node's API may create (registry.ts). */
  maxRegions: f64 = DEFAULT_MAX_REGIONS;
  /** Set when the settings could not be read: answer with it. */
  error: Response | null = null;

  // Built when a reading needs them, not on every call (the common batch has none).
  futureMessage(): string {
    return "timestamp is more than " + (<i64>this.maxFutureMs).toString() + " ms ahead of the server clock; check the device's clock";
  }

  regionsMessage(): string {
    return "this node already holds its maximum of " + (<i64>this.maxRegions).toString() +
      " regions (max-regions); send readings for an existing region, or ask the operator to raise the limit";
  }

  lateMessage(): string {
    return "timestamp is older than the grace period of " + (<i64>this.gracePeriodMs).toString() +
      " ms; readings that late are no longer aggregated";
  }
}

/**
 * A non-negative integer config value below 2^53, the default if unset; -1 (with s.error set) when it cannot
 * be read or is malformed.
 */
function readUint(s: Settings, key: string, fallback: f64, unit: string): f64 {
  const v = config.get(key);
  if (v == null) {
    const e = lastError();
    if (e == AbiError.NOT_FOUND) return fallback;
    s.error = hostFailure(e, "config");
    return -1;
  }
  const x = parseUint(v);
  if (x < 0) {
    const message = "config " + key + " must be a non-negative integer (" + unit + "), got \"" + v + "\"";
    log.error("aggregator: " + message);
    s.error = Response.error(500, "invalid_config", message);
    return -1;
  }
  return <f64>x;
}

export function loadSettings(): Settings {
  const s = new Settings();
  const now = clock.nowMs();
  if (now < 0) {
    s.error = hostFailure(<i32>now, "clock");
    return s;
  }
  s.now = now;
  s.gracePeriodMs = readUint(s, "grace_period_ms", DEFAULT_GRACE_PERIOD_MS, "milliseconds");
  if (s.error != null) return s;
  s.maxFutureMs = readUint(s, "max_future_ms", DEFAULT_MAX_FUTURE_MS, "milliseconds");
  if (s.error != null) return s;
  s.maxRegions = readUint(s, "max_regions", DEFAULT_MAX_REGIONS, "regions");
  return s;
}

/** Regions whose last reading is before `cutoff` are left out of GET /v1/regions (config `listed_for_ms`). */
export class ListingCutoff {
  /** -Infinity: every region is listed. */
  cutoff: f64 = -Infinity;
  error: Response | null = null;
}

/**
 * `listed_for_ms` (unset or 0: forever): the node passes how long its retention keeps any bucket, so a region
 * with no retained bucket leaves the listing; its all-time total stays readable by name.
 */
export function loadListingCutoff(): ListingCutoff {
  const c = new ListingCutoff();
  const s = new Settings();
  const forMs = readUint(s, "listed_for_ms", 0, "milliseconds");
  if (s.error != null) {
    c.error = s.error;
    return c;
  }
  if (forMs == 0) return c;
  const now = clock.nowMs();
  if (now < 0) {
    c.error = hostFailure(<i32>now, "clock");
    return c;
  }
  c.cutoff = now - forMs;
  return c;
}
