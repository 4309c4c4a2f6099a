/** The chart's time ranges and the series endpoint's buckets laid out for a chart (no DOM, no uPlot: unit-tested in Node). */

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The two bucket sizes the series endpoint has. */
export const BUCKETS = {
  '1m': { ms: MINUTE, count: 60, label: 'last hour, 1-minute buckets' },
  '1h': { ms: HOUR, count: 24, label: 'last day, hourly buckets' },
};

/** The ranges offered: each a span ending now, read in the bucket size that gives a readable number of points. */
export const RANGES = {
  '1h': { ms: HOUR, bucket: '1m', label: 'last hour' },
  '24h': { ms: 24 * HOUR, bucket: '1h', label: 'last 24 hours' },
  '7d': { ms: 7 * 24 * HOUR, bucket: '1h', label: 'last 7 days' },
};

/** A custom range up to this long is read in minute buckets, a longer one in hour buckets. */
export const CUSTOM_MINUTES_UP_TO_MS = 12 * HOUR;
/** The series endpoint answers at most this many buckets. */
export const MAX_BUCKETS = 10_000;

/** The window a series request covers: the current bucket and the ones before it. */
export function seriesWindow(bucket, now = Date.now()) {
  const { ms, count } = BUCKETS[bucket];
  const to = Math.floor(now / ms) * ms + ms;
  return { from: to - count * ms, to };
}

/**
 * The span, bucket size, label (short, for a tile) and title (the whole span, for the page) of a range:
 * one of RANGES ending at the end of the current bucket,
 * or `custom` = { from, to } (ms) widened to whole buckets. Undefined for a custom range that is empty.
 */
export function rangeSpan(range, now = Date.now(), custom = undefined) {
  if (range === 'custom') {
    if (!custom || !(custom.to > custom.from)) return undefined;
    const bucket = custom.to - custom.from <= CUSTOM_MINUTES_UP_TO_MS ? '1m' : '1h';
    const { ms } = BUCKETS[bucket];
    const to = Math.ceil(custom.to / ms) * ms;
    const from = Math.max(Math.floor(custom.from / ms) * ms, to - MAX_BUCKETS * ms);
    return { from, to, bucket, label: 'custom range', title: `${shortDate(from)} – ${shortDate(to)}` };
  }
  const r = RANGES[range] ?? RANGES['1h'];
  const { ms } = BUCKETS[r.bucket];
  const to = Math.floor(now / ms) * ms + ms;
  return { from: to - r.ms, to, bucket: r.bucket, label: r.label, title: r.label };
}

/** Local time, as the range inputs show it: `6 Dec, 09:10`. */
function shortDate(ms) {
  return new Date(ms).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** Bucket multiples a chart may merge into, per endpoint bucket size: each divides the next larger unit. */
const MERGE_FACTORS = { '1m': [1, 2, 5, 10, 15, 30], '1h': [1, 2, 3, 6, 12] };

/** A merged chart keeps at least this many points over its span. */
const MIN_POINTS = 12;
/** Buckets holding at most this many readings (the median) are sparse: one sensor's reading each, mostly. */
const SPARSE_COUNT = 3;

/**
 * How many endpoint buckets to merge into one chart point so the readings read as a line: at least
 * the usual gap between non-empty buckets (its 75th percentile), so sensors that report every 5
 * minutes give 5-minute points. When buckets mostly hold one reading each, consecutive points come
 * from different sensors and zigzag between their temperatures; then the factor is the one that
 * smooths that zigzag (the least mean step between neighbouring points, within 25%), so that each
 * point holds one round of every sensor. `span` bounds the factor so the chart keeps MIN_POINTS.
 */
export function mergeFactor(buckets, bucket, span = undefined) {
  const { ms } = BUCKETS[bucket];
  const gaps = [];
  for (let i = 1; i < buckets.length; i++) gaps.push(Math.round((buckets[i].start - buckets[i - 1].start) / ms));
  if (gaps.length < 3) return 1;
  gaps.sort((a, b) => a - b);
  const usual = gaps[Math.floor(0.75 * (gaps.length - 1))];
  const factors = MERGE_FACTORS[bucket];
  const byGap = factors.find((f) => f >= usual) ?? factors[factors.length - 1];
  const counts = buckets.map((b) => b.count ?? 1).sort((a, b) => a - b);
  if (counts[Math.floor(counts.length / 2)] > SPARSE_COUNT) return byGap;
  const fits = (f) => !span || (span.to - span.from) / (ms * f) >= MIN_POINTS;
  const candidates = factors.filter((f) => f >= byGap && fits(f));
  if (candidates.length < 2) return candidates[0] ?? byGap;
  const steps = candidates.map((f) => meanStep(layOut(buckets, bucket, span ?? spanOf(buckets, ms), f).columns[1]));
  const least = Math.min(...steps);
  return candidates[steps.findIndex((d) => d <= least * 1.25)];
}

/** The mean absolute difference between neighbouring non-null points. */
function meanStep(ys) {
  let total = 0;
  let n = 0;
  for (let i = 1; i < ys.length; i++) {
    if (ys[i] == null || ys[i - 1] == null) continue;
    total += Math.abs(ys[i] - ys[i - 1]);
    n++;
  }
  return n === 0 ? Infinity : total / n;
}

function spanOf(buckets, ms) {
  return { from: buckets[0].start, to: buckets[buckets.length - 1].start + ms };
}

/**
 * Lays the node's non-empty buckets on the full grid of the span, merged `factor` at a time (count and
 * sum add up, min and max of the parts), with nulls for empty slots so uPlot draws a gap rather than a
 * line across a time with no readings. Returns uPlot's columns [x (s), mean, min, max] and the counts.
 */
export function layOut(buckets, bucket, span, factor = 1) {
  const step = BUCKETS[bucket].ms * factor;
  const first = Math.floor(span.from / step) * step;
  const n = Math.max(0, Math.ceil((span.to - first) / step));
  const xs = new Array(n);
  const mean = new Array(n).fill(null);
  const min = new Array(n).fill(null);
  const max = new Array(n).fill(null);
  const count = new Array(n).fill(0);
  const sum = new Array(n).fill(0);
  for (let i = 0; i < n; i++) xs[i] = (first + i * step) / 1000;
  for (const b of buckets) {
    const i = Math.floor((b.start - first) / step);
    if (i < 0 || i >= n || b.start < span.from || b.start >= span.to) continue;
    const c = b.count ?? 1;
    count[i] += c;
    sum[i] += b.sum ?? b.mean * c;
    min[i] = min[i] === null ? b.min : Math.min(min[i], b.min);
    max[i] = max[i] === null ? b.max : Math.max(max[i], b.max);
  }
  for (let i = 0; i < n; i++) if (count[i] > 0) mean[i] = sum[i] / count[i];
  return { columns: [xs, mean, min, max], counts: count, stepMs: step };
}

/** The buckets on the span's grid, one endpoint bucket per slot (layOut without merging, columns only). */
export function toColumns(buckets, bucket, span) {
  return layOut(buckets, bucket, span, 1).columns;
}
