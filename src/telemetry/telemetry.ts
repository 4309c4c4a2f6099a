/**
 * The node's telemetry: OpenTelemetry metrics (read by Prometheus at `/metrics`, pushed over OTLP when
 * configured), traces (OTLP), and the request context of log lines. The composition root makes one
 * and hands its hooks to the pieces it observes; none of them imports telemetry (the runtime in
 * particular knows only its `onCall`/`onMetric` callbacks).
 *
 * This class only wires the pieces: the SDK (./sdk.ts), one observer per thing observed
 * (./http-observer.ts, ./pipeline-observer.ts, ./guest-hooks.ts, ./gauges.ts, ./replication.ts) and
 * the Prometheus text (./metrics-endpoint.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { MetricProducer, MetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { telemetryConfig, type TelemetryConfig } from './config.js';
import { observeBreaker, observeDatabase, observeDisk, observeDiskBudget, observeFold, observeShedder, observeWriteJournal, type WriteJournalStatus } from './gauges.js';
import { observeProcess } from './process-gauges.js';
import { observeDeployments, type DeploymentGauges } from './deployment-metrics.js';
import { observeWrites } from './write-gauges.js';
import { GuestHooks, type GuestCallReport, type GuestCounterMapper } from './guest-hooks.js';
import { HttpObserver } from './http-observer.js';
import type { Logger } from './logger.js';
import { MetricsEndpoint, type MetricsText } from './metrics-endpoint.js';
import { PipelineObserver, type CommitGroupReport } from './pipeline-observer.js';
import { observeReplication, type ReplicationStatsLike } from './replication.js';
import { ReplicationTracing } from './replication-tracing.js';
import { RequestScope, withSpan } from './scope.js';
import { startSdk, type Sdk } from './sdk.js';

export interface TelemetryOptions {
  logger: Logger;
  /** `service.instance.id`: the node's id. */
  nodeId: string;
  /** `service.version`. */
  serviceVersion: string;
  /** The OTEL_* variables deciding what runs (the OTLP exporters read theirs from `process.env`). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** A bearer token `/metrics` requires; empty: none. @default '' */
  metricsToken?: string;
  /**
   * How apps map their guests' counters onto node counters (e.g. src/apps/aggregator's
   * `aggregatorCounterMapper`: `readings_*` into `edgeagg.readings`); the first that maps a name wins.
   * @default none
   */
  guestCounters?: readonly GuestCounterMapper[];
  /** Tests: export spans here (synchronously, whatever the env says) instead of OTLP. */
  spanExporter?: SpanExporter;
  /** Tests: more metric readers, each made with the producers it must read (the bound histograms). */
  metricReaders?: Array<(metricProducers: MetricProducer[]) => MetricReader>;
}

/** What the HTTP server calls per request (src/http `RequestObserver`); the scope is opaque to it. */
export interface RequestHooks {
  begin(req: IncomingMessage, res: ServerResponse): unknown;
  route(scope: unknown, template: string): void;
  run<T>(scope: unknown, fn: () => T): T;
}

/** What the write path calls (src/ingest `PipelineObserver`); a trace is a request's scope, opaque to it. */
export interface PipelineHooks {
  job<T>(trace: unknown, fn: () => T): T;
  execute<T>(traces: readonly unknown[], fn: () => T): T;
  group(report: CommitGroupReport, traces: readonly unknown[]): void;
}

export class Telemetry {
  readonly config: TelemetryConfig;
  private readonly logger: Logger;
  private readonly sdk: Sdk | undefined;
  private readonly http: HttpObserver | undefined;
  private readonly pipeline: PipelineObserver | undefined;
  private readonly endpoint: MetricsEndpoint;
  private replicationTracing: ReplicationTracing | undefined;
  private stopped = false;

  /** After every guest call (src/runtime `RuntimeOptions.onCall`). */
  readonly onCall: (report: GuestCallReport) => void = () => {};
  /** A guest's `metric_add` (src/runtime `RuntimeOptions.onMetric`). */
  readonly onMetric: (module: { name: string; version: string }, name: string, value: number) => void = () => {};

  constructor(options: TelemetryOptions) {
    const env = options.env ?? process.env;
    this.config = telemetryConfig(env);
    this.logger = options.logger;
    for (const w of this.config.warnings) this.logger.warn(`telemetry: ${w}`);
    if (this.config.disabled) {
      this.endpoint = new MetricsEndpoint(undefined, options.metricsToken);
      return;
    }
    const guestCounters = options.guestCounters ?? [];
    const sdk = startSdk(this.config, { ...options, env, mappedCounters: guestCounters.map((m) => m.instrument) });
    this.sdk = sdk;
    this.endpoint = new MetricsEndpoint(sdk.prometheus, options.metricsToken);
    const guest = new GuestHooks(sdk.metrics, sdk.tracer, guestCounters);
    this.onCall = guest.onCall;
    this.onMetric = guest.onMetric;
    this.http = new HttpObserver(sdk.metrics, sdk.tracer, this.logger);
    this.pipeline = new PipelineObserver(sdk.metrics, sdk.tracer, guest);
    observeProcess(sdk.metrics.meter);
  }

  /** False with `OTEL_SDK_DISABLED=true`: every hook is then a no-op (or absent). */
  get enabled(): boolean {
    return this.sdk !== undefined;
  }

  /** True when spans are made (an OTLP endpoint is configured and sampling is not always_off). */
  get tracing(): boolean {
    return this.sdk?.tracer !== undefined;
  }

  /** The HTTP server's per-request hook (src/http `RequestObserver`); undefined when telemetry is disabled. */
  get requestObserver(): RequestHooks | undefined {
    return this.http;
  }

  /** The write path's hook (src/ingest `PipelineObserver`); undefined when telemetry is disabled. */
  get pipelineObserver(): PipelineHooks | undefined {
    return this.pipeline;
  }

  /** Request ids (and trace ids) for a log line written about a request after an `await`. */
  logFields(res: ServerResponse | undefined): Record<string, string> {
    return this.http?.logFields(res) ?? {};
  }

  // --- read at each collection -------------------------------------------------------------------------

  /** The circuit breaker's state, read at each collection: 1 for the current state, 0 for the others. */
  observeBreaker(breaker: { readonly state: string }): void {
    if (this.sdk) observeBreaker(this.sdk.metrics.meter, breaker);
  }

  /** Bytes written to storage, in all and per reading accepted (`accepted`: since the start). */
  observeWrites(accepted: () => number): void {
    if (this.sdk) observeWrites(this.sdk.metrics.meter, accepted);
  }

  /** Deployments per app: canary share, build progress, rollbacks (src/deploy), read at each collection. */
  observeDeployments(read: () => DeploymentGauges[]): void {
    if (this.sdk) observeDeployments(this.sdk.metrics.meter, read);
  }

  /** Told of every breaker transition (StoreBreaker onStateChange). */
  breakerChanged(state: string): void {
    this.sdk?.metrics.breakerTransitions.add(1, { state });
  }

  /** Requests shed (503 overloaded) and API requests in flight, read at each collection. */
  observeShedder(shedder: { readonly shed: number; readonly inFlight: number }): void {
    if (this.sdk) observeShedder(this.sdk.metrics.meter, shedder);
  }

  /** The fold's backlog (src/ingest/ingest-pipeline.ts), read at each collection. */
  observeFold(fold: { readonly waiting: number; readonly quarantined: number }): void {
    if (this.sdk) observeFold(this.sdk.metrics.meter, fold);
  }

  /** The filesystem holding `path` (the data directory): its size and free space, read at each collection. */
  observeDisk(path: string): void {
    if (this.sdk) observeDisk(this.sdk.metrics.meter, path);
  }

  /** The database budget (src/node/maintenance.ts), read at each collection. */
  observeDiskBudget(budget: () => { state: string; maxBytes: number }): void {
    if (this.sdk) observeDiskBudget(this.sdk.metrics.meter, budget);
  }

  /** The database file's size and free space, read at each collection. */
  observeWriteJournal(status: () => WriteJournalStatus): void {
    if (this.sdk) observeWriteJournal(this.sdk.metrics.meter, status);
  }

  observeDatabase(db: { sizeBytes(): number; freeBytes(): number }): void {
    if (this.sdk) observeDatabase(this.sdk.metrics.meter, db);
  }

  /**
   * Replication's metrics, read from `source` at each collection: src/replication `Replicator.stats()`,
   * or undefined while the node runs alone. See docs/observability.md for the names.
   */
  observeReplication(source: () => ReplicationStatsLike | undefined): void {
    if (this.sdk) observeReplication(this.sdk.metrics.meter, this.logger, source);
  }

  // --- traces across nodes -------------------------------------------------------------------------------

  /**
   * Starts a span when tracing is on (undefined otherwise): replication's publish of a request's
   * events, or the fold of events received with a `traceparent` (see ./propagation.ts).
   */
  startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes; parent?: Context } = {}): Span | undefined {
    return this.sdk?.tracer?.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, options.parent ?? ROOT_CONTEXT);
  }

  /**
   * Replication's tracer (src/replication `ReplicationTracer`): remembers the request of each event
   * committed here until its publish, makes the publish spans (with `traceparent` in the message headers)
   * and the spans of the folds of traced messages from other nodes. Undefined when tracing is off.
   */
  get replicationTracer(): ReplicationTracing | undefined {
    const tracer = this.sdk?.tracer;
    if (!tracer) return undefined;
    return (this.replicationTracing ??= new ReplicationTracing(tracer));
  }

  /** The trace context of a request given to the write path (its `trace`), e.g. to inject in NATS headers. */
  contextOf(trace: unknown): Context | undefined {
    return trace instanceof RequestScope ? trace.context(withSpan) : undefined;
  }

  // --- export ----------------------------------------------------------------------------------------------

  /**
   * `GET /metrics`: every instrument, collected now, in the Prometheus text format. The HTTP layer
   * serves it, after {@link metricsTokenAccepted}. Rejects when telemetry is disabled.
   */
  renderMetrics(): Promise<MetricsText> {
    return this.endpoint.render();
  }

  /**
   * Whether a request's bearer token (undefined: it sent none) may read `/metrics`: always when no
   * metrics token is configured, else only that token (compared in constant time).
   */
  metricsTokenAccepted(token: string | undefined): boolean {
    return this.endpoint.accepts(token);
  }

  /** Flushes what is pending (bounded in time) and stops exporting. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const flushed = Promise.allSettled([this.sdk?.meterProvider.shutdown(), this.sdk?.tracerProvider?.shutdown()]);
    await Promise.race([flushed, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}
