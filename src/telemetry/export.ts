/**
 * Exporting without ever getting in a request's way, and without losing traces to a short outage.
 *
 * The OTLP exporters already retry a failed request (429, 502–504, connection refused, ...) with
 * backoff for up to their timeout. Metrics need nothing more: they are cumulative, so the next
 * periodic export carries whatever a failed one did. Spans are not: a batch that failed is gone.
 * {@link RetryingSpanExporter} keeps failed batches in a bounded backlog and re-sends them, oldest
 * first, with exponential backoff and jitter until the collector answers; past the bound the oldest
 * spans are dropped and counted. Everything here runs on timers, never on a request's path.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from './logger.js';
import { backoffDelay } from '../resilience/index.js';

/** Logs an outage once when it starts and once when it ends, instead of once per failed export. */
export class ExportHealth {
  private readonly down = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly onFailure: (signal: string) => void = () => {},
  ) {}

  failed(signal: string, error: unknown): void {
    this.onFailure(signal);
    if (this.down.has(signal)) return;
    this.down.add(signal);
    this.logger.warn('telemetry export failing; retrying with backoff', { signal, error: error instanceof Error ? error.message : String(error) });
  }

  succeeded(signal: string): void {
    if (!this.down.delete(signal)) return;
    this.logger.info('telemetry export recovered', { signal });
  }
}

export interface RetryingSpanExporterOptions {
  health: ExportHealth;
  /** Spans kept while the collector is away; beyond it the oldest are dropped. @default 8192 */
  maxBacklogSpans?: number;
  /** First retry delay, ms; doubles per failure (with ±50% jitter). @default 1000 */
  initialBackoffMs?: number;
  /** Longest retry delay, ms. @default 30000 */
  maxBackoffMs?: number;
  /** Told of spans dropped from a full backlog. */
  onDrop?: (spans: number) => void;
}

export class RetryingSpanExporter implements SpanExporter {
  private readonly backlog: ReadableSpan[][] = [];
  private backlogSpans = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private draining = false;
  private stopped = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly options: RetryingSpanExporterOptions,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.backlog.length > 0) {
      // Behind a backlog: keep the order, the retry loop sends it.
      this.keep(spans);
      done({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        this.options.health.succeeded('traces');
      } else {
        this.keep(spans);
        this.failed(result.error);
      }
      // The batch is ours now: the span processor need not report or retry it.
      done({ code: ExportResultCode.SUCCESS });
    });
  }

  /** Spans waiting to be re-sent. */
  get pending(): number {
    return this.backlogSpans;
  }

  async forceFlush(): Promise<void> {
    await this.inner.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // One last attempt for the backlog, bounded: shutting down never waits on an absent collector.
    const last = async (): Promise<void> => {
      while (this.backlog.length > 0) {
        const ok = await this.send(this.backlog[0]!);
        if (!ok) return;
        this.shift();
      }
    };
    await Promise.race([last(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await this.inner.shutdown();
  }

  private keep(spans: ReadableSpan[]): void {
    const max = this.options.maxBacklogSpans ?? 8192;
    this.backlog.push(spans);
    this.backlogSpans += spans.length;
    while (this.backlogSpans > max && this.backlog.length > 1) {
      const dropped = this.shift();
      this.options.onDrop?.(dropped);
    }
  }

  private shift(): number {
    const batch = this.backlog.shift();
    this.backlogSpans -= batch?.length ?? 0;
    return batch?.length ?? 0;
  }

  private failed(error: unknown): void {
    this.options.health.failed('traces', error);
    this.failures++;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.draining || this.stopped) return;
    const delay = backoffDelay({ initialMs: this.options.initialBackoffMs ?? 1_000, maxMs: this.options.maxBackoffMs ?? 30_000, multiplier: 2, jitter: 0.5 }, this.failures - 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.backlog.length > 0 && !this.stopped) {
        if (!(await this.send(this.backlog[0]!))) {
          this.failures++;
          this.options.health.failed('traces', 'a retry failed');
          return;
        }
        this.shift();
        this.failures = 0;
        this.options.health.succeeded('traces');
      }
    } finally {
      this.draining = false;
      if (this.backlog.length > 0) this.schedule();
    }
  }

  private send(spans: ReadableSpan[]): Promise<boolean> {
    return new Promise((resolve) => this.inner.export(spans, (r) => resolve(r.code === ExportResultCode.SUCCESS)));
  }
}

/** A metric exporter that reports outages through {@link ExportHealth}; retries are the OTLP exporter's. */
export function withExportHealth(inner: PushMetricExporter, health: ExportHealth): PushMetricExporter {
  return {
    export: (metrics: ResourceMetrics, done: (result: ExportResult) => void) =>
      inner.export(metrics, (result) => {
        if (result.code === ExportResultCode.SUCCESS) health.succeeded('metrics');
        else health.failed('metrics', result.error);
        done(result);
      }),
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
    selectAggregation: inner.selectAggregation?.bind(inner),
  };
}
