/**
 * The dashboard's logic that needs no DOM (web/health.js, web/series.js, web/format.js), run in Node.
 * The modules are plain browser JavaScript, so they are imported by URL and typed here.
 */
import { describe, expect, it } from 'vitest';

interface Counters {
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
}
interface Rates {
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
  rejectedTotal: number;
}
type Span = { from: number; to: number };
type Bucket = { start: number; mean: number; min: number; max: number };

const { RateMeter } = (await import(new URL('../../web/health.js', import.meta.url).href)) as {
  RateMeter: new (windowMs?: number) => { sample(c: Counters, t: number): Rates | undefined };
};
const { seriesWindow, toColumns } = (await import(new URL('../../web/series.js', import.meta.url).href)) as {
  seriesWindow: (bucket: string, now: number) => Span;
  toColumns: (buckets: Bucket[], bucket: string, span: Span) => [number[], Array<number | null>, Array<number | null>, Array<number | null>];
};
const fmt = (await import(new URL('../../web/format.js', import.meta.url).href)) as {
  temp: (v: unknown) => string;
  age: (t: number, now: number) => string;
  rate: (v: unknown) => string;
};

const c = (accepted: number, duplicates = 0, rejected: Record<string, number> = {}): Counters => ({ accepted, duplicates, rejected });

describe('rates from counter deltas', () => {
  it('needs two samples, then divides the difference by the time between them', () => {
    const m = new RateMeter(10_000);
    expect(m.sample(c(100, 5, { out_of_range: 1 }), 0)).toBeUndefined();
    expect(m.sample(c(120, 9, { out_of_range: 3, missing_field: 2 }), 2_000)).toEqual({
      accepted: 10,
      duplicates: 2,
      rejected: { out_of_range: 1, missing_field: 1 },
      rejectedTotal: 2,
    });
  });

  it('averages over the window and forgets older samples', () => {
    const m = new RateMeter(4_000);
    m.sample(c(0), 0);
    m.sample(c(1_000), 2_000);
    m.sample(c(1_000), 4_000);
    // The window now starts at the 2 s sample: nothing happened since.
    expect(m.sample(c(1_000), 6_000)?.accepted).toBe(0);
  });

  it('starts over when the counters go down (the node restarted)', () => {
    const m = new RateMeter();
    m.sample(c(500), 0);
    m.sample(c(600), 1_000);
    expect(m.sample(c(3), 2_000)).toBeUndefined();
    expect(m.sample(c(13), 3_000)?.accepted).toBe(10);
  });
});

describe('series layout', () => {
  it('covers the current bucket and the 59 minutes before it, or the 23 hours before it', () => {
    const now = Date.UTC(2026, 0, 15, 12, 30, 15);
    expect(seriesWindow('1m', now)).toEqual({ from: Date.UTC(2026, 0, 15, 11, 31), to: Date.UTC(2026, 0, 15, 12, 31) });
    expect(seriesWindow('1h', now)).toEqual({ from: Date.UTC(2026, 0, 14, 13), to: Date.UTC(2026, 0, 15, 13) });
  });

  it('puts each bucket in its slot and leaves empty ones null, so the chart shows a gap', () => {
    const span = { from: 0, to: 5 * 60_000 };
    const [xs, mean, min, max] = toColumns(
      [
        { start: 60_000, mean: 20, min: 19, max: 21 },
        { start: 240_000, mean: 22, min: 22, max: 22 },
        { start: 600_000, mean: 99, min: 99, max: 99 },
      ],
      '1m',
      span,
    );
    expect(xs).toEqual([0, 60, 120, 180, 240]);
    expect(mean).toEqual([null, 20, null, null, 22]);
    expect(min).toEqual([null, 19, null, null, 22]);
    expect(max).toEqual([null, 21, null, null, 22]);
  });
});

describe('formatting', () => {
  it('writes temperatures with two decimals whatever the locale, and a dash for none', () => {
    expect(fmt.temp(20.7)).toBe('20.70');
    expect(fmt.temp(-3.5)).toBe('-3.50');
    expect(fmt.temp(-0.001)).toBe('0.00');
    expect(fmt.temp(null)).toBe('—');
    expect(fmt.rate(0.25)).toBe('0.3/s');
    expect(fmt.rate(1234.4)).toBe('1,234/s');
  });

  it('says how old the last reading is', () => {
    expect(fmt.age(1_000, 1_500)).toBe('just now');
    expect(fmt.age(0, 42_000)).toBe('42 s ago');
    expect(fmt.age(0, 30 * 60_000)).toBe('30 min ago');
    expect(fmt.age(0, 5 * 3_600_000)).toBe('5 h ago');
    expect(fmt.age(10_000, 0)).toBe('in the future');
  });
});
