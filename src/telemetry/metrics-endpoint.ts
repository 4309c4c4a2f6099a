/**
 * `/metrics` as data: the Prometheus text exposition, and the check of the metrics token. The HTTP
 * layer serves it (routing, the `Authorization` header, error answers); nothing here speaks HTTP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import { PrometheusSerializer, type PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { withUnitSuffixes } from './prometheus-names.js';

/** One scrape's answer. */
export interface MetricsText {
  /** The Prometheus text format's media type (the exporter's own: `text/plain`). */
  contentType: string;
  body: string;
}

export class MetricsEndpoint {
  private readonly serializer = new PrometheusSerializer();
  private readonly tokenHash: Buffer | undefined;

  constructor(
    private readonly prometheus: PrometheusExporter | undefined,
    token: string | undefined,
  ) {
    this.tokenHash = token ? sha256(token) : undefined;
  }

  /** Whether `token` (the bearer token a request brought, if any) may read the metrics. */
  accepts(token: string | undefined): boolean {
    if (!this.tokenHash) return true;
    // Hashes of equal length, compared in constant time: the token's length leaks nothing either.
    return token !== undefined && timingSafeEqual(sha256(token), this.tokenHash);
  }

  /** Collects every reader's instruments now and renders them as Prometheus text. */
  async render(): Promise<MetricsText> {
    if (!this.prometheus) throw new Error('metrics are disabled (OTEL_SDK_DISABLED=true)');
    try {
      const { resourceMetrics, errors } = await this.prometheus.collect();
      if (errors.length > 0) diag.error('PrometheusExporter: metrics collection errors', ...errors);
      return { contentType: 'text/plain', body: this.serializer.serialize(withUnitSuffixes(resourceMetrics)) };
    } catch (error) {
      // As the exporter's own handler answers a failed collection: still a 200, saying why.
      return { contentType: 'text/plain', body: `# failed to export metrics: ${String(error)}` };
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
