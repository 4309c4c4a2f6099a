/**
 * Rates from the node's cumulative counters (`GET /v1/node`): the difference between the newest
 * sample and the oldest one inside the window, divided by the time between them. A window of a few
 * samples smooths the jitter of polling without hiding a change for long.
 */
export const RATE_WINDOW_MS = 10_000;

export class RateMeter {
  constructor(windowMs = RATE_WINDOW_MS) {
    this.windowMs = windowMs;
    this.samples = [];
  }

  /** Adds a sample taken at `t` (ms); returns the rates per second, or undefined until there are two samples. */
  sample(counters, t) {
    const last = this.samples[this.samples.length - 1];
    // A counter that went down means the node restarted with fresh counters: start over.
    if (last && decreased(last.counters, counters)) this.samples = [];
    this.samples.push({ counters, t });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.windowMs) this.samples.shift();
    if (this.samples.length < 2) return undefined;
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    if (dt <= 0) return undefined;
    const rejected = {};
    let rejectedTotal = 0;
    for (const [code, n] of Object.entries(counters.rejected ?? {})) {
      const r = (n - (first.counters.rejected?.[code] ?? 0)) / dt;
      rejected[code] = r;
      rejectedTotal += r;
    }
    return {
      accepted: (counters.accepted - first.counters.accepted) / dt,
      duplicates: (counters.duplicates - first.counters.duplicates) / dt,
      rejected,
      rejectedTotal,
    };
  }

  reset() {
    this.samples = [];
  }
}

function decreased(before, after) {
  if (after.accepted < before.accepted || after.duplicates < before.duplicates) return true;
  return Object.entries(before.rejected ?? {}).some(([code, n]) => (after.rejected?.[code] ?? 0) < n);
}
