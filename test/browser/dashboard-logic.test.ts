/**
 * The dashboard's logic that needs no DOM (web/health.js, web/series.js, web/regions-view.js,
 * web/format.js), run in Node.
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
type Bucket = { start: number; mean: number; min: number; max: number; count?: number; sum?: number };
type Columns = [number[], Array<number | null>, Array<number | null>, Array<number | null>];
type RangeSpan = Span & { bucket: string; label: string; title: string };
type Row = { name: string; mean?: number; lastSeen?: number };

const { RateMeter } = (await import(new URL('../../web/health.js', import.meta.url).href)) as {
  RateMeter: new (windowMs?: number) => { sample(c: Counters, t: number): Rates | undefined };
};
const { seriesWindow, toColumns, rangeSpan, mergeFactor, layOut } = (await import(new URL('../../web/series.js', import.meta.url).href)) as {
  seriesWindow: (bucket: string, now: number) => Span;
  toColumns: (buckets: Bucket[], bucket: string, span: Span) => Columns;
  rangeSpan: (range: string, now: number, custom?: Span) => RangeSpan | undefined;
  mergeFactor: (buckets: Bucket[], bucket: string, span?: Span) => number;
  layOut: (buckets: Bucket[], bucket: string, span: Span, factor?: number) => { columns: Columns; counts: number[]; stepMs: number };
};
const { visibleRegions, isSilent } = (await import(new URL('../../web/regions-view.js', import.meta.url).href)) as {
  visibleRegions: (rows: Row[], options: { query?: string; sort?: string }) => string[];
  isSilent: (lastSeen: number | undefined, now: number, after?: number) => boolean;
};
const fmt = (await import(new URL('../../web/format.js', import.meta.url).href)) as {
  temp: (v: unknown) => string;
  age: (t: number, now: number) => string;
  rate: (v: unknown) => string;
  bucketTime: (start: number, stepMs: number) => string;
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

describe('ranges', () => {
  const now = Date.UTC(2026, 0, 15, 12, 30, 15);
  const H = 3_600_000;

  it('reads the last hour in minute buckets and the last 24 hours and 7 days in hour buckets, ending with the current bucket', () => {
    expect(rangeSpan('1h', now)).toEqual({ from: Date.UTC(2026, 0, 15, 11, 31), to: Date.UTC(2026, 0, 15, 12, 31), bucket: '1m', label: 'last hour', title: 'last hour' });
    expect(rangeSpan('24h', now)).toMatchObject({ from: Date.UTC(2026, 0, 14, 13), to: Date.UTC(2026, 0, 15, 13), bucket: '1h', label: 'last 24 hours' });
    expect(rangeSpan('7d', now)).toMatchObject({ from: Date.UTC(2026, 0, 8, 13), to: Date.UTC(2026, 0, 15, 13), bucket: '1h' });
  });

  it('widens a custom range to whole buckets: minutes up to 12 hours, hours beyond', () => {
    const short = rangeSpan('custom', now, { from: Date.UTC(2026, 0, 15, 9, 10, 30), to: Date.UTC(2026, 0, 15, 10, 0, 5) });
    expect(short).toMatchObject({ from: Date.UTC(2026, 0, 15, 9, 10), to: Date.UTC(2026, 0, 15, 10, 1), bucket: '1m' });
    expect(short?.label).toBe('custom range');
    // The whole span in local time, as the range inputs show it.
    expect(short?.title).toMatch(/^15 Jan,? \d\d:\d\d – 15 Jan,? \d\d:\d\d$/);
    const long = rangeSpan('custom', now, { from: Date.UTC(2026, 0, 10, 9, 10), to: Date.UTC(2026, 0, 12, 3, 5) });
    expect(long).toMatchObject({ from: Date.UTC(2026, 0, 10, 9), to: Date.UTC(2026, 0, 12, 4), bucket: '1h' });
    // Never more buckets than the endpoint answers.
    const huge = rangeSpan('custom', now, { from: 0, to: now })!;
    expect((huge.to - huge.from) / H).toBe(10_000);
    expect(rangeSpan('custom', now, { from: now, to: now })).toBeUndefined();
  });
});

describe('chart points', () => {
  const M = 60_000;
  // Two sensors each reading every 5 minutes, a minute apart: pairs of adjacent buckets, then 3 empty ones.
  const demo: Bucket[] = [];
  for (let k = 0; k < 12; k++) {
    demo.push({ start: k * 5 * M, count: 1, sum: 20 + k, mean: 20 + k, min: 20 + k, max: 20 + k });
    demo.push({ start: (k * 5 + 1) * M, count: 1, sum: 22 + k, mean: 22 + k, min: 22 + k, max: 22 + k });
  }

  it('merges buckets to the usual gap between readings, so sparse readings join into a line', () => {
    expect(mergeFactor(demo, '1m')).toBe(5);
    const every = Array.from({ length: 30 }, (_, i) => ({ start: i * M, mean: 1, min: 1, max: 1 }));
    expect(mergeFactor(every, '1m')).toBe(1);
    expect(mergeFactor(demo.slice(0, 3), '1m')).toBe(1);
    const hourly = Array.from({ length: 10 }, (_, i) => ({ start: i * 3 * 60 * M, mean: 1, min: 1, max: 1 }));
    expect(mergeFactor(hourly, '1h')).toBe(3);
  });

  it('merges a round of every sensor into one point when each bucket holds one sensor, so the line does not zigzag between sensors', () => {
    // Four sensors at 20, 24, 21, 23 °C, each every 5 minutes, in successive minutes; every fifth minute empty.
    const temps = [20, 24, 21, 23];
    const staggered: Bucket[] = [];
    for (let k = 0; k < 12; k++) {
      temps.forEach((t, i) => staggered.push({ start: (k * 5 + i) * M, count: 1, sum: t, mean: t, min: t, max: t }));
    }
    const hour = { from: 0, to: 60 * M };
    expect(mergeFactor(staggered, '1m', hour)).toBe(5);
    const { columns } = layOut(staggered, '1m', hour, 5);
    expect(columns[1].every((m) => m === 22)).toBe(true);
    expect([columns[2][0], columns[3][0]]).toEqual([20, 24]);
    // Many readings per bucket: each point is already an average of the sensors; keep every minute.
    const dense = staggered.map((b) => ({ ...b, count: 40, sum: b.mean * 40 }));
    expect(mergeFactor(dense, '1m', hour)).toBe(1);
  });

  it('adds counts and sums of merged buckets and keeps their extremes', () => {
    const { columns, counts, stepMs } = layOut(demo, '1m', { from: 0, to: 60 * M }, 5);
    const [xs, mean, min, max] = columns;
    expect(stepMs).toBe(5 * M);
    expect(xs.slice(0, 3)).toEqual([0, 300, 600]);
    expect(xs).toHaveLength(12);
    expect(mean[0]).toBe(21);
    expect([min[0], max[0], counts[0]]).toEqual([20, 22, 2]);
    expect(mean.every((m) => m !== null)).toBe(true);
  });

  it('leaves a slot with no readings null, so the line breaks there', () => {
    const { columns, counts } = layOut([demo[0]!, demo[4]!], '1m', { from: 0, to: 15 * M }, 5);
    expect(columns[1]).toEqual([20, null, 22]);
    expect(counts).toEqual([1, 0, 1]);
  });
});

describe('region list', () => {
  const rows: Row[] = [
    { name: 'eu-west', mean: 18, lastSeen: 5_000 },
    { name: 'ap-south', mean: 29, lastSeen: 9_000 },
    { name: 'eu-north', mean: 8, lastSeen: 1_000 },
    { name: 'us-east' },
  ];

  it('filters by every word of the search, ignoring case', () => {
    expect(visibleRegions(rows, { query: 'EU' })).toEqual(['eu-north', 'eu-west']);
    expect(visibleRegions(rows, { query: 'eu no' })).toEqual(['eu-north']);
    expect(visibleRegions(rows, { query: 'nothing' })).toEqual([]);
    expect(visibleRegions(rows, {})).toEqual(['ap-south', 'eu-north', 'eu-west', 'us-east']);
  });

  it('sorts by mean either way and by last seen, quietest first, with regions without data last', () => {
    expect(visibleRegions(rows, { sort: 'mean-desc' })).toEqual(['ap-south', 'eu-west', 'eu-north', 'us-east']);
    expect(visibleRegions(rows, { sort: 'mean-asc' })).toEqual(['eu-north', 'eu-west', 'ap-south', 'us-east']);
    expect(visibleRegions(rows, { sort: 'last-seen' })).toEqual(['eu-north', 'eu-west', 'ap-south', 'us-east']);
    expect(visibleRegions(rows, { sort: 'bogus' })).toEqual(['ap-south', 'eu-north', 'eu-west', 'us-east']);
  });

  it('calls a region silent when its last reading is older than the limit', () => {
    expect(isSilent(0, 10 * 60_000 + 1)).toBe(true);
    expect(isSilent(0, 10 * 60_000)).toBe(false);
    expect(isSilent(undefined, 1e12)).toBe(false);
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

  it("names a chart point's time span short enough for the readout", () => {
    const t = Date.UTC(2026, 0, 15, 12, 5);
    expect(fmt.bucketTime(t, 60_000)).toMatch(/^\d\d:\d\d$/);
    expect(fmt.bucketTime(t, 5 * 60_000)).toMatch(/^\d\d:\d5–\d\d:\d0$/);
    expect(fmt.bucketTime(t - 5 * 60_000, 3_600_000)).toMatch(/^[A-Z][a-z]{2} \d\d:\d\d–\d\d:\d\d$/);
  });

  it('says how old the last reading is', () => {
    expect(fmt.age(1_000, 1_500)).toBe('just now');
    expect(fmt.age(0, 42_000)).toBe('42 s ago');
    expect(fmt.age(0, 30 * 60_000)).toBe('30 min ago');
    expect(fmt.age(0, 5 * 3_600_000)).toBe('5 h ago');
    expect(fmt.age(10_000, 0)).toBe('in the future');
  });
});
