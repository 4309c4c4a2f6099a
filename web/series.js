/** The series endpoint's buckets laid out for a chart (no DOM, no uPlot: unit-tested in Node). */

export const BUCKETS = {
  '1m': { ms: 60_000, count: 60, label: 'last hour, 1-minute buckets' },
  '1h': { ms: 3_600_000, count: 24, label: 'last day, hourly buckets' },
};

/** The window a series request covers: the current bucket and the ones before it. */
export function seriesWindow(bucket, now = Date.now()) {
  const { ms, count } = BUCKETS[bucket];
  const to = Math.floor(now / ms) * ms + ms;
  return { from: to - count * ms, to };
}

/**
 * Lays the node's non-empty buckets on the full grid of the window, with nulls for empty ones so
 * uPlot draws a gap rather than a line across a time with no readings.
 */
export function toColumns(buckets, bucket, span) {
  const { ms } = BUCKETS[bucket];
  const n = Math.round((span.to - span.from) / ms);
  const xs = new Array(n);
  const mean = new Array(n).fill(null);
  const min = new Array(n).fill(null);
  const max = new Array(n).fill(null);
  for (let i = 0; i < n; i++) xs[i] = (span.from + i * ms) / 1000;
  for (const b of buckets) {
    const i = Math.round((b.start - span.from) / ms);
    if (i < 0 || i >= n) continue;
    mean[i] = b.mean;
    min[i] = b.min;
    max[i] = b.max;
  }
  return [xs, mean, min, max];
}
