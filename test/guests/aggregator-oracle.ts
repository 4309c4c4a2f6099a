/**
 * The aggregates as docs/api.md defines them, computed directly in JavaScript from distinct readings: the
 * oracle the aggregator guest is tested against.
 */
import { expect } from 'vitest';

export interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

export interface Aggregate {
  region: string;
  count: number;
  sum: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  last: { device_id: string; temperature_c: number; timestamp: number } | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** round(x * 1e6), half away from zero, computed exactly from the double x. */
export function microDegrees(x: number): bigint {
  if (x === 0) return 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (biased === 0) {
    exp = -1074;
  } else {
    mantissa |= 1n << 52n;
    exp = biased - 1075;
  }
  // |x| = mantissa * 2^exp exactly.
  let r: bigint;
  if (exp >= 0) {
    r = mantissa * 10n ** 6n * (1n << BigInt(exp));
  } else {
    const num = mantissa * 10n ** 6n;
    const den = 1n << BigInt(-exp);
    r = num / den;
    if (2n * (num % den) >= den) r += 1n;
  }
  return x < 0 ? -r : r;
}

/** The exact aggregate of `readings` (distinct readings of one region). */
export function oracle(region: string, readings: Reading[]) {
  if (readings.length === 0) {
    return { region, count: 0, sum: 0, mean: null, min: null, max: null, last: null, p50: null, p90: null, p99: null, sorted: [] as number[] };
  }
  const sorted = readings.map((r) => r.temperature_c).sort((a, b) => a - b);
  const micro = readings.reduce((s, r) => s + microDegrees(r.temperature_c), 0n);
  const sum = Number(micro) / 1e6;
  let last = readings[0]!;
  for (const r of readings) {
    if (r.timestamp > last.timestamp || (r.timestamp === last.timestamp && Buffer.compare(Buffer.from(r.device_id), Buffer.from(last.device_id)) > 0)) last = r;
  }
  const rank = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;
  return {
    region,
    count: readings.length,
    sum,
    mean: sum / readings.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    last: { device_id: last.device_id, temperature_c: last.temperature_c, timestamp: last.timestamp },
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    sorted,
  };
}

/** The stated quantile bound: 1% relative for |v| >= 0.001, 0.001 absolute below (plus float rounding). */
export function withinSketchBound(estimate: number, exact: number): boolean {
  const a = Math.abs(exact);
  const bound = a >= 0.001 ? 0.01 * a * (1 + 1e-12) : 0.001;
  return Math.abs(estimate - exact) <= bound + 1e-15;
}

/** Checks an aggregate from the guest against the oracle: everything exact except the quantiles. */
export function expectAggregate(got: Aggregate, region: string, readings: Reading[]): void {
  const want = oracle(region, readings);
  expect(got.region).toBe(region);
  expect(got.count).toBe(want.count);
  expect(got.sum).toBe(want.sum);
  if (want.count === 0) {
    // A ranged read also says which range it covered (`from`, `to`).
    const { from: _from, to: _to, ...rest } = got as Aggregate & { from?: unknown; to?: unknown };
    expect(rest).toEqual({ region, count: 0, sum: 0, mean: null, min: null, max: null, last: null, p50: null, p90: null, p99: null });
    return;
  }
  expect(got.mean).toBe(want.mean);
  expect(got.min).toBe(want.min);
  expect(got.max).toBe(want.max);
  expect(got.last).toEqual(want.last);
  for (const q of ['p50', 'p90', 'p99'] as const) {
    const exact = want[q]!;
    const est = got[q]!;
    expect(withinSketchBound(est, exact), `${q}: got ${est}, exact ${exact}`).toBe(true);
    // Never outside the readings: a p50 below the smallest reading would read as nonsense.
    expect(est, `${q} within [min, max]`).toBeGreaterThanOrEqual(want.min!);
    expect(est, `${q} within [min, max]`).toBeLessThanOrEqual(want.max!);
  }
}
