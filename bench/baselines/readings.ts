/**
 * What the baselines do per reading, written plainly in JS: the same validation rules as the
 * aggregator guest (docs/api.md), and the same aggregates (count, exact micro-degree sum, min, max,
 * last, and a log-bucket sketch for quantiles).
 */
export interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

const DEVICE_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const REGION_RE = /^[A-Za-z0-9._-]{1,64}$/;
const FIELDS = new Set(['device_id', 'region', 'temperature_c', 'timestamp']);
const GRACE_MS = 7 * 24 * 3600 * 1000;
const FUTURE_MS = 5 * 60 * 1000;

/** The reading, or the code of its first error. */
export function validate(item: unknown, now: number): Reading | string {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return 'invalid_type';
  const r = item as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!FIELDS.has(k)) return 'unknown_field';
  if (typeof r.device_id !== 'string') return r.device_id === undefined ? 'missing_field' : 'invalid_type';
  if (!DEVICE_RE.test(r.device_id)) return 'invalid_format';
  if (typeof r.region !== 'string') return r.region === undefined ? 'missing_field' : 'invalid_type';
  if (!REGION_RE.test(r.region)) return 'invalid_format';
  if (typeof r.temperature_c !== 'number') return r.temperature_c === undefined ? 'missing_field' : 'invalid_type';
  if (!Number.isFinite(r.temperature_c) || r.temperature_c < -273.15 || r.temperature_c > 1000) return 'out_of_range';
  if (typeof r.timestamp !== 'number') return r.timestamp === undefined ? 'missing_field' : 'invalid_type';
  if (!Number.isInteger(r.timestamp)) return 'invalid_format';
  if (r.timestamp < 0 || r.timestamp > Number.MAX_SAFE_INTEGER) return 'out_of_range';
  if (r.timestamp > now + FUTURE_MS) return 'timestamp_in_future';
  if (r.timestamp < now - GRACE_MS) return 'too_late';
  return r as unknown as Reading;
}

const GAMMA_LN = Math.log(1.01 / 0.99);

export class RegionAggregate {
  count = 0;
  micro = 0;
  min = Infinity;
  max = -Infinity;
  last: Reading | undefined;
  readonly bins = new Map<number, number>();

  add(r: Reading): void {
    const t = r.temperature_c;
    this.count++;
    this.micro += Math.sign(t) * Math.round(Math.abs(t) * 1e6);
    if (t < this.min) this.min = t;
    if (t > this.max) this.max = t;
    if (!this.last || r.timestamp > this.last.timestamp || (r.timestamp === this.last.timestamp && r.device_id > this.last.device_id)) this.last = r;
    const key = Math.abs(t) < 0.001 ? 0 : Math.sign(t) * Math.ceil(Math.log(Math.abs(t)) / GAMMA_LN + 1e-9) + Math.sign(t) * 100_000;
    this.bins.set(key, (this.bins.get(key) ?? 0) + 1);
  }

  toJSON(region: string): Record<string, unknown> {
    return {
      region,
      count: this.count,
      sum: this.micro / 1e6,
      mean: this.micro / 1e6 / this.count,
      min: this.min,
      max: this.max,
      last: this.last,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
    };
  }

  private quantile(q: number): number {
    const rank = Math.floor(q * (this.count - 1));
    const keys = [...this.bins.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const k of keys) {
      seen += this.bins.get(k)!;
      if (seen > rank) {
        if (k === 0) return 0;
        const i = Math.abs(k) - 100_000;
        return Math.sign(k) * ((2 * Math.exp(i * GAMMA_LN)) / (1 + Math.exp(GAMMA_LN)));
      }
    }
    return NaN;
  }
}

/** Parses a request body as the aggregator does: one object, an array, or NDJSON. */
export function parseItems(body: string, contentType: string): unknown[] {
  if (contentType.startsWith('application/x-ndjson')) return body.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown);
  const parsed = JSON.parse(body) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
}
