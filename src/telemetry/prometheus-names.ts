/**
 * Prometheus names carry their unit, as OpenTelemetry's Prometheus compatibility rules say: a metric with
 * unit `s` is `..._seconds` (histograms: `..._seconds_bucket`), `By` is `..._bytes`, counters then get
 * `_total` from the serializer. Units in braces (`{request}`) are annotations and add nothing.
 */
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** UCUM units to the words Prometheus names use. */
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  '%': 'percent',
  '1': 'ratio',
};

/** Units after a `/`: the spec's words are singular there (`By/s` is `bytes_per_second`). */
const PER_UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day' };

/** The unit word a metric's Prometheus name ends with, or undefined for none. */
export function unitSuffix(unit: string | undefined): string | undefined {
  if (!unit || unit.startsWith('{')) return undefined;
  // `By/s` and the like: each part in words, `per` between.
  const [numerator, denominator] = unit.split('/');
  const word = UNIT_WORDS[numerator!] ?? numerator!;
  return denominator ? `${word}_per_${PER_UNIT_WORDS[denominator] ?? denominator}` : word;
}

/** The name a metric is exported to Prometheus under (before sanitising and `_total`). */
export function prometheusMetricName(name: string, unit: string | undefined): string {
  const suffix = unitSuffix(unit);
  if (!suffix) return name;
  const normalised = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return normalised.endsWith(`_${suffix}`) ? name : `${name}.${suffix}`;
}

/** `metrics` with every metric renamed to carry its unit; the rest is shared, not copied. */
export function withUnitSuffixes(metrics: ResourceMetrics): ResourceMetrics {
  return {
    ...metrics,
    scopeMetrics: metrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map((metric): MetricData => {
        const name = prometheusMetricName(metric.descriptor.name, metric.descriptor.unit);
        return name === metric.descriptor.name ? metric : { ...metric, descriptor: { ...metric.descriptor, name } };
      }),
    })),
  };
}
