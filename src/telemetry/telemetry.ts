/**
 * The node's telemetry: OpenTelemetry metrics (read by Prometheus at `/metrics`, pushed over OTLP when
 * configured), traces (OTLP), and the request context of log lines. The composition root makes one
 * and hands its hooks to the pieces it observes; none of them imports telemetry (the runtime in
 * particular knows only its `onCall`/`onMetric` callbacks).
 *
 * Cost, by design: with tracing off (the default) a request costs one small object, a response
 * header and one histogram record; no span, context or closure is made. With tracing on, only
 * sampled requests make spans.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { ServerResponse, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  diag,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, MeterProvider, PeriodicExportingMetricReader, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { telemetryConfig, type TelemetryConfig } from './config.js';
import { ExportHealth, RetryingSpanExporter, withExportHealth } from './export.js';
import { requestLogFields, type Logger, type NodeLogger } from './logger.js';
import { BoundHistogramProducer, type HistogramCell } from './bound-histogram.js';
import { NodeHistograms, NodeMetrics } from './metrics.js';
import { extractFromHttpHeaders } from './propagation.js';
import { redactText } from './redact.js';
import type { ReplicationSnapshot } from './replication.js';
import { ReplicationTracing } from './replication-tracing.js';
import { RequestScope, currentGroupTrace, currentScope, runInGroup, runInScope, type GroupTrace, type GuestMetricCells } from './scope.js';

/** What the runtime reports after each guest call (src/runtime CallReport). */
export interface GuestCallReport {
  module: string;
  version: string;
  trigger: string;
  durationMs: number;
  /** The call error's code, when it failed. */
  error?: string;
  /** For a trap: the engine's message ("unreachable", "memory access out of bounds", ...). */
  trap?: string;
  /** The instance's memory when the call ended, and the most it may grow to, in bytes. */
  memoryBytes?: number;
  memoryLimitBytes?: number;
}

/** What the write path reports after each commit group (src/ingest GroupCommit). */
export interface CommitGroupReport {
  size: number;
  durationMs: number;
  failed: boolean;
  /** The transaction committed (true also when only the fsync after it failed). */
  committed: boolean;
}

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
  /** Tests: export spans here (synchronously, whatever the env says) instead of OTLP. */
  spanExporter?: SpanExporter;
  /** Tests: more metric readers, each made with the producers it must read (the bound histograms). */
  metricReaders?: Array<(metricProducers: MetricProducer[]) => MetricReader>;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** Beyond this many distinct routes, new ones are recorded as `_OTHER` (a label must stay low-cardinality). */
const MAX_ROUTES = 64;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SCOPE = Symbol('edgeagg.telemetry.scope');
const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

type ScopedResponse = ServerResponse & { [SCOPE]?: RequestScope };

export class Telemetry {
  readonly config: TelemetryConfig;
  private readonly logger: Logger & Partial<Pick<NodeLogger, 'isLevelEnabled'>>;
  private readonly metrics: NodeMetrics | undefined;
  private readonly meterProvider: MeterProvider | undefined;
  private readonly prometheus: PrometheusExporter | undefined;
  private readonly tracerProvider: BasicTracerProvider | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly tokenHash: Buffer | undefined;
  private readonly idPrefix = randomBytes(4).toString('hex');
  private sequence = 0;
  private lastCall: { module: string; version: string; trigger: string; error: string | undefined; cell: HistogramCell | undefined } | undefined;
  private readonly routes = new Set<string>();
  /** Per module version (the runtime's module object), per counter name: see guestMetricCells. */
  private readonly guestCells = new WeakMap<object, Map<string, GuestMetricCells>>();
  /** The duration cell of the last request's (method, route, status, aborted): most requests share it. */
  private lastHttp: { method: string; route: string | undefined; status: number | undefined; aborted: boolean; cell: HistogramCell | undefined } | undefined;
  private metricsServer: Server | undefined;
  private stopped = false;
  private replicationTracing: ReplicationTracing | undefined;

  constructor(options: TelemetryOptions) {
    this.config = telemetryConfig(options.env ?? process.env);
    this.logger = options.logger;
    for (const w of this.config.warnings) this.logger.warn(`telemetry: ${w}`);
    this.tokenHash = options.metricsToken ? sha256(options.metricsToken) : undefined;
    if (this.config.disabled) return;

    const env = options.env ?? process.env;
    if (env.OTEL_LOG_LEVEL) routeDiagnostics(this.logger, env.OTEL_LOG_LEVEL);
    const resource = nodeResource(this.config, options);
    const health = new ExportHealth(this.logger, (signal) => this.metrics?.exportFailures.add(1, { signal }));

    // Every reader reads the SDK's instruments and, through a producer of its own, the bound histograms.
    const histograms = new NodeHistograms();
    const scope = { name: 'edge-aggregator', version: options.serviceVersion };
    const producer = (temporality: AggregationTemporality): MetricProducer => new BoundHistogramProducer(histograms.all, resource, scope, temporality);
    // The exporters pin @opentelemetry/sdk-metrics 2.12.0 and the node has 2.12.1: the classes are the
    // same but TypeScript sees two declarations. They meet only through the MetricReader contract.
    this.prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [producer(AggregationTemporality.CUMULATIVE)] as never });
    const readers: MetricReader[] = [this.prometheus as unknown as MetricReader, ...(options.metricReaders ?? []).map((make) => make([producer(AggregationTemporality.CUMULATIVE)]))];
    if (this.config.otlpMetrics) {
      const exporter = new OTLPMetricExporter();
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: withExportHealth(exporter, health),
          exportIntervalMillis: this.config.metricExportIntervalMs,
          exportTimeoutMillis: this.config.metricExportTimeoutMs,
          // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the exporter read it.
          metricProducers: [producer(exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE)],
        }),
      );
    }
    this.meterProvider = new MeterProvider({ resource, readers });
    this.metrics = new NodeMetrics(this.meterProvider.getMeter('edge-aggregator', options.serviceVersion), histograms);

    if (this.config.tracing || options.spanExporter) {
      let processor: SpanProcessor;
      if (options.spanExporter) processor = new SimpleSpanProcessor(options.spanExporter);
      else {
        const exporter = new RetryingSpanExporter(new OTLPTraceExporter(), { health, onDrop: (n) => this.metrics?.spansDropped.add(n) });
        processor = new BatchSpanProcessor(exporter);
      }
      this.tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [processor], sampler: samplerFromEnv(env) });
      this.tracer = this.tracerProvider.getTracer('edge-aggregator', options.serviceVersion);
    }
  }

  /** False with `OTEL_SDK_DISABLED=true`: every hook is then a no-op (or absent). */
  get enabled(): boolean {
    return this.metrics !== undefined;
  }

  /** True when spans are made (an OTLP endpoint is configured and sampling is not always_off). */
  get tracing(): boolean {
    return this.tracer !== undefined;
  }

  // --- HTTP (src/http/server.ts RequestObserver) -------------------------------------------------------

  /** The server's per-request hook; undefined when telemetry is disabled. */
  get requestObserver(): { begin(req: IncomingMessage, res: ServerResponse): unknown; route(scope: unknown, template: string): void; run<T>(scope: unknown, fn: () => T): T } | undefined {
    if (!this.metrics) return undefined;
    return {
      begin: (req, res) => this.begin(req, res as ScopedResponse),
      route: (scope, template) => {
        if (scope instanceof RequestScope) scope.route = template;
      },
      run: <T>(scope: unknown, fn: () => T): T => (scope instanceof RequestScope ? runInScope(scope, fn) : fn()),
    };
  }

  private begin(req: IncomingMessage, res: ScopedResponse): RequestScope {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `${this.idPrefix}-${(++this.sequence).toString(36)}`;
    const method = req.method && HTTP_METHODS.has(req.method) ? req.method : '_OTHER';
    const scope = new RequestScope(id, method);
    // Sent with the response's own writeHead call, not set here with res.setHeader: a header set before
    // writeHead sends node:http down its slow path (every header of writeHead set one by one), 2.5% of a
    // single reading's CPU (bench/probe.js, paired runs).
    res.writeHead = writeHeadWithRequestId;
    if (this.tracer) {
      const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : extractFromHttpHeaders(req.headers);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      // The path only: the query may hold an access_token.
      const path = redactText(q < 0 ? url : url.slice(0, q));
      // The attributes a sampler may look at; the rest only on spans that are recorded.
      const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'url.scheme': 'http' } }, parent);
      if (span.isRecording()) {
        span.setAttributes({
          'network.protocol.version': req.httpVersion,
          'client.address': req.socket.remoteAddress ?? '',
          'user_agent.original': req.headers['user-agent'] ?? '',
          'http.request.header.x-request-id': id,
        });
        scope.span = span;
      }
    }
    res[SCOPE] = scope;
    res.on('close', this.onResponseClose);
    return scope;
  }

  /** One listener for every response (no closure per request): `this` is the response. */
  private readonly onResponseClose = ((telemetry: Telemetry) =>
    function (this: ScopedResponse): void {
      telemetry.end(this);
    })(this);

  private end(res: ScopedResponse): void {
    const scope = res[SCOPE];
    if (!scope || !this.metrics) return;
    const durationMs = performance.now() - scope.startedAt;
    // Closed before the response was complete: the client went away (no status was sent, or not all of it).
    const aborted = !res.writableFinished;
    const status = res.headersSent ? res.statusCode : undefined;
    const route = scope.route === undefined ? undefined : this.boundedRoute(scope.route);
    const h = this.metrics.histograms.httpDuration;
    const last = this.lastHttp;
    let cell: HistogramCell | undefined;
    if (last && last.method === scope.method && last.route === route && last.status === status && last.aborted === aborted) cell = last.cell;
    else {
      cell = h.bind(`${scope.method} ${route ?? ''} ${status ?? ''} ${aborted ? 1 : 0}`, () => httpAttributes(scope.method, route, status, aborted));
      this.lastHttp = { method: scope.method, route, status, aborted, cell };
    }
    h.record(cell, durationMs / 1000);
    const span = scope.span;
    if (span) {
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${scope.method} ${route}`);
      }
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (aborted) span.setAttribute('error.type', 'aborted');
      if (aborted || (status !== undefined && status >= 500)) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    // 503s are transient and counted (overloaded, circuit_open, store_busy): not one warning each.
    const failed = status !== undefined && status >= 500 && status !== 503;
    if (failed || this.logger.isLevelEnabled?.('debug')) {
      const url = res.req?.url ?? '';
      const q = url.indexOf('?');
      const fields = {
        ...requestLogFields(scope),
        method: scope.method,
        path: q < 0 ? url : url.slice(0, q),
        route,
        status,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        ...(aborted ? { aborted: true } : {}),
      };
      if (failed) this.logger.warn('request failed', fields);
      else this.logger.debug('request', fields);
    }
  }

  /** Request ids (and trace ids) for a log line written about a request after an `await`. */
  logFields(res: ServerResponse | undefined): Record<string, string> {
    const scope = res ? (res as ScopedResponse)[SCOPE] : currentScope();
    return scope ? requestLogFields(scope) : {};
  }

  private boundedRoute(route: string): string {
    if (this.routes.has(route)) return route;
    if (this.routes.size >= MAX_ROUTES) return '_OTHER';
    this.routes.add(route);
    return route;
  }


  // --- the write path (src/ingest PipelineObserver) ------------------------------------------------------

  /** The write path's hook; undefined when telemetry is disabled. */
  get pipelineObserver():
    | {
        job<T>(trace: unknown, fn: () => T): T;
        execute<T>(traces: readonly unknown[], fn: () => T): T;
        group(report: CommitGroupReport, traces: readonly unknown[]): void;
      }
    | undefined {
    if (!this.metrics) return undefined;
    return {
      job: <T>(trace: unknown, fn: () => T): T => this.job(trace, fn),
      execute: <T>(traces: readonly unknown[], fn: () => T): T => this.execute(traces, fn),
      group: (report, traces) => this.group(report, traces),
    };
  }

  /**
   * A request's unit of work inside its group. Its guest counters are held until the group commits: a
   * job can be run twice (a group whose fold fails is retried request by request) or rolled back, and
   * a reading must be counted once, and only if it was kept.
   */
  private job<T>(trace: unknown, fn: () => T): T {
    if (!(trace instanceof RequestScope)) return fn();
    trace.pending = undefined;
    trace.buffering = true;
    try {
      return runInScope(trace, fn);
    } catch (error) {
      trace.pending = undefined;
      throw error;
    } finally {
      trace.buffering = false;
    }
  }

  private execute<T>(traces: readonly unknown[], fn: () => T): T {
    if (!this.tracer) return fn();
    let group: GroupTrace | undefined;
    for (const t of traces) {
      if (t instanceof RequestScope && t.span) t.group = group ??= { folds: [] };
    }
    return group ? runInGroup(group, fn) : fn();
  }

  private group(report: CommitGroupReport, traces: readonly unknown[]): void {
    const m = this.metrics;
    if (!m) return;
    const outcome = !report.failed ? 'committed' : report.committed ? 'sync_failed' : 'rolled_back';
    m.histograms.commitDuration.recordWith(outcome, () => ({ outcome }), report.durationMs / 1000);
    m.histograms.groupSize.recordWith('', () => ({}), report.size);
    const end = performance.now();
    for (const t of traces) {
      if (!(t instanceof RequestScope)) continue;
      if (t.pending) {
        if (report.committed) this.applyPending(t.pending);
        t.pending = undefined;
      }
      if (t.span) this.commitSpans(t, report, end);
      t.group = undefined;
    }
  }

  private commitSpans(scope: RequestScope, report: CommitGroupReport, end: number): void {
    const tracer = this.tracer!;
    const span = tracer.startSpan(
      'store.commit',
      {
        kind: SpanKind.INTERNAL,
        startTime: end - report.durationMs,
        attributes: { 'edgeagg.commit.group_size': report.size, 'edgeagg.commit.committed': report.committed },
      },
      scope.context(withSpan),
    );
    if (report.failed) span.setStatus({ code: SpanStatusCode.ERROR, message: report.committed ? 'fsync failed' : 'transaction failed' });
    const folds = scope.group?.folds ?? [];
    if (folds.length > 0) {
      const parent = withSpan(span);
      for (const f of folds) this.callSpan(f.module, f.version, 'events', f.end - f.durationMs, f.end, f.error, undefined, parent);
    }
    span.end(end);
  }

  // --- the runtime (src/runtime RuntimeOptions.onCall / onMetric) -----------------------------------------

  /** After every guest call. */
  readonly onCall = (report: GuestCallReport): void => {
    const m = this.metrics;
    if (!m) return;
    const { module, version, trigger, error } = report;
    m.histograms.callDuration.record(this.callCell(report), report.durationMs / 1000);
    if (error) {
      const trap = error === 'guest_trap' ? trapKind(report.trap) : undefined;
      m.callErrors.add(`${module}@${version} ${trigger} ${error} ${trap ?? ''}`, 1, () => ({ ...callAttributes(report), ...(trap ? { trap } : {}) }));
      if (error === 'deadline_exceeded') m.deadlineHits.add(`${module}@${version} ${trigger}`, 1, () => ({ module, version, trigger }));
    }
    if (report.memoryBytes !== undefined && report.memoryLimitBytes !== undefined && report.memoryBytes >= report.memoryLimitBytes) {
      m.memoryCapHits.add(`${module}@${version} ${trigger}`, 1, () => ({ module, version, trigger }));
    }
    if (!this.tracer) return;
    const scope = currentScope();
    const end = performance.now();
    if (scope?.span) {
      this.callSpan(module, version, trigger, end - report.durationMs, end, error, report.trap, scope.context(withSpan));
    } else if (trigger === 'events') {
      // A commit group's fold: drawn under each traced request's commit span once the group is done.
      currentGroupTrace()?.folds.push({ end, durationMs: report.durationMs, module, version, error });
    }
  };

  private callSpan(module: string, version: string, trigger: string, start: number, end: number, error: string | undefined, trap: string | undefined, parent: Context | undefined): void {
    const span = this.tracer!.startSpan(
      `guest ${module} ${trigger}`,
      { kind: SpanKind.INTERNAL, startTime: start, attributes: { 'edgeagg.guest.module': module, 'edgeagg.guest.version': version, 'edgeagg.guest.trigger': trigger } },
      parent,
    );
    if (error) {
      span.setAttribute('error.type', error);
      if (trap) span.setAttribute('edgeagg.guest.trap', trapKind(trap));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    }
    span.end(end);
  }

  /** A guest's `metric_add`. */
  readonly onMetric = (module: { name: string; version: string }, name: string, value: number): void => {
    if (!this.metrics || !(value > 0)) return; // counters only go up
    const cells = this.guestMetricCells(module, name);
    const scope = currentScope();
    if (scope?.buffering) {
      (scope.pending ??= []).push(cells, value);
      return;
    }
    this.applyMetric(cells, value);
  };

  private applyPending(pending: NonNullable<RequestScope['pending']>): void {
    let readings = 0;
    let batchSize: HistogramCell | undefined;
    for (let i = 0; i < pending.length; i += 2) {
      const cells = pending[i] as GuestMetricCells;
      const value = pending[i + 1] as number;
      this.applyMetric(cells, value);
      if (cells.readings) {
        readings += value;
        batchSize = cells.batchSize;
      }
    }
    if (readings > 0) this.metrics!.histograms.batchSize.record(batchSize, readings);
  }

  private applyMetric(cells: GuestMetricCells, value: number): void {
    if (cells.counter) cells.counter.value += value;
    if (cells.readings) cells.readings.value += value;
  }

  /**
   * The cells a guest counter of a module version adds to, found once: on the write path every request
   * counts its readings, and building the keys each time (strings, closures, map lookups) cost more than
   * the rest of the metrics together.
   */
  private guestMetricCells(module: { name: string; version: string }, name: string): GuestMetricCells {
    let byName = this.guestCells.get(module);
    if (byName === undefined) this.guestCells.set(module, (byName = new Map()));
    let cells = byName.get(name);
    if (cells === undefined) {
      const m = this.metrics!;
      const { name: mod, version } = module;
      const key = `${mod}@${version}`;
      const isReadings = name.startsWith('readings_');
      cells = {
        counter: m.guestCounter(name).cell(key, () => ({ module: mod, version })),
        readings: isReadings ? m.readings.cell(`${key} ${name}`, () => ({ module: mod, version, ...readingsAttributes(name) })) : undefined,
        batchSize: isReadings ? m.histograms.batchSize.bind(key, () => ({ module: mod, version })) : undefined,
      };
      // A guest has a bounded number of counter names (LIMITS.metricNames), so this map is bounded too.
      byName.set(name, cells);
    }
    return cells;
  }

  /** The duration cell of a call's (module, version, trigger, error): the last one is kept at hand. */
  private callCell(report: GuestCallReport): HistogramCell | undefined {
    const last = this.lastCall;
    if (last && last.module === report.module && last.version === report.version && last.trigger === report.trigger && last.error === report.error) return last.cell;
    const cell = this.metrics!.histograms.callDuration.bind(`${report.module}@${report.version} ${report.trigger} ${report.error ?? ''}`, () => callAttributes(report));
    this.lastCall = { module: report.module, version: report.version, trigger: report.trigger, error: report.error, cell };
    return cell;
  }

  // --- resilience ----------------------------------------------------------------------------------------

  /** The circuit breaker's state, read at each collection: 1 for the current state, 0 for the others. */
  observeBreaker(breaker: { readonly state: string }): void {
    this.metrics?.meter
      .createObservableGauge('edgeagg.circuit_breaker.state', { description: "The store's circuit breaker: 1 for its current state (closed, open, half_open), 0 for the others." })
      .addCallback((r) => {
        for (const state of BREAKER_STATES) r.observe(breaker.state === state ? 1 : 0, { state });
      });
  }

  /** Told of every breaker transition (StoreBreaker onStateChange). */
  breakerChanged(state: string): void {
    this.metrics?.breakerTransitions.add(1, { state });
  }

  /** Requests shed (503 overloaded) and API requests in flight, read at each collection. */
  observeShedder(shedder: { readonly shed: number; readonly inFlight: number }): void {
    const meter = this.metrics?.meter;
    if (!meter) return;
    meter.createObservableCounter('edgeagg.requests.shed', { description: 'Requests refused with 503 overloaded because --max-in-flight were in flight.', unit: '{request}' }).addCallback((r) => r.observe(shedder.shed));
    meter.createObservableUpDownCounter('edgeagg.requests.in_flight', { description: 'API requests being handled.', unit: '{request}' }).addCallback((r) => r.observe(shedder.inFlight));
  }

  /** The fold's backlog (src/ingest/ingest-pipeline.ts), read at each collection. */
  observeFold(fold: { readonly waiting: number; readonly quarantined: number }): void {
    const meter = this.metrics?.meter;
    if (!meter) return;
    meter.createObservableGauge('edgeagg.fold.waiting', { description: 'Stored events whose fold into the aggregates waits (--fold-delay-ms); reads fold them first.', unit: '{event}' }).addCallback((r) => r.observe(fold.waiting));
    meter.createObservableGauge('edgeagg.fold.quarantined', { description: 'Stored events the module could not fold, kept in the fold journal until the next start.', unit: '{event}' }).addCallback((r) => r.observe(fold.quarantined));
  }

  // --- replication -----------------------------------------------------------------------------------------

  /**
   * Replication's metrics, read from `source` at each collection (once for all of them). `source`
   * answers undefined while the node runs alone. See docs/observability.md for the names.
   */
  observeReplication(source: () => ReplicationSnapshot | undefined): void {
    const meter = this.metrics?.meter;
    if (!meter) return;
    const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(name, { description, unit });
    const counter = (name: string, description: string, unit: string) => meter.createObservableCounter(name, { description, unit });
    const connected = gauge('edgeagg.replication.connected', '1 while connected to NATS, 0 otherwise.', '1');
    const outbox = gauge('edgeagg.replication.outbox.depth', 'Local events committed but not yet published.', '{event}');
    const lag = gauge('edgeagg.replication.lag', "How far this node's consumer is behind the fleet's events.", 's');
    const published = counter('edgeagg.replication.published', 'Events this node published.', '{event}');
    const publishFailures = counter('edgeagg.replication.publish.failures', 'Failed publish attempts (retried).', '{attempt}');
    const received = counter('edgeagg.replication.received', 'Events received from other nodes, by outcome (applied, duplicate, conflict).', '{event}');
    const rounds = counter('edgeagg.replication.anti_entropy.rounds', 'Anti-entropy rounds run.', '{round}');
    const repairs = counter('edgeagg.replication.anti_entropy.repairs', 'Events repaired by anti-entropy: direction in (this node lacked them) or out (a peer did).', '{event}');
    const peerLag = gauge('edgeagg.replication.peer.lag', 'Replication lag other nodes report in their heartbeats.', 's');
    const peerOutbox = gauge('edgeagg.replication.peer.outbox.depth', 'Outbox depth other nodes report in their heartbeats.', '{event}');
    const peerContact = gauge('edgeagg.replication.peer.last_contact_age', 'Time since the last heartbeat of each other node.', 's');
    meter.addBatchObservableCallback(
      (r) => {
        let s: ReplicationSnapshot | undefined;
        try {
          s = source();
        } catch (error) {
          this.logger.warn('replication metrics unavailable', { error });
        }
        if (!s) return;
        r.observe(connected, s.connected ? 1 : 0);
        r.observe(outbox, s.outboxDepth);
        if (s.lagMs !== undefined) r.observe(lag, s.lagMs / 1000);
        r.observe(published, s.published);
        r.observe(publishFailures, s.publishFailures);
        r.observe(received, s.applied, { outcome: 'applied' });
        r.observe(received, s.duplicates, { outcome: 'duplicate' });
        r.observe(received, s.conflicts, { outcome: 'conflict' });
        r.observe(rounds, s.antiEntropyRounds);
        r.observe(repairs, s.repairsIn, { direction: 'in' });
        r.observe(repairs, s.repairsOut, { direction: 'out' });
        for (const p of s.peers) {
          if (p.lagMs !== undefined) r.observe(peerLag, p.lagMs / 1000, { peer: p.nodeId });
          r.observe(peerOutbox, p.outboxDepth, { peer: p.nodeId });
          r.observe(peerContact, p.lastContactAgeMs / 1000, { peer: p.nodeId });
        }
      },
      [connected, outbox, lag, published, publishFailures, received, rounds, repairs, peerLag, peerOutbox, peerContact],
    );
  }

  /**
   * Starts a span when tracing is on (undefined otherwise): replication's publish of a request's
   * events, or the fold of events received with a `traceparent` (see ./propagation.ts).
   */
  startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes; parent?: Context } = {}): Span | undefined {
    return this.tracer?.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, options.parent ?? ROOT_CONTEXT);
  }

  /**
   * Replication's tracer (src/replication `ReplicationTracer`): remembers the request of each event
   * committed here until its publish, makes the publish spans (with `traceparent` in the message headers)
   * and the spans of the folds of traced messages from other nodes. Undefined when tracing is off.
   */
  get replicationTracer(): ReplicationTracing | undefined {
    if (!this.tracer) return undefined;
    return (this.replicationTracing ??= new ReplicationTracing(this.tracer));
  }

  /** The trace context of a request given to the write path (its `trace`), e.g. to inject in NATS headers. */
  contextOf(trace: unknown): Context | undefined {
    return trace instanceof RequestScope ? trace.context(withSpan) : undefined;
  }

  // --- export ----------------------------------------------------------------------------------------------

  /**
   * `GET /metrics`: the Prometheus text format. With a metrics token, only `Authorization: Bearer
   * <token>` is answered.
   */
  readonly handleMetrics = (req: IncomingMessage, res: ServerResponse): void => {
    if (!this.prometheus) {
      sendJsonError(res, 404, 'not_found', 'metrics are disabled (OTEL_SDK_DISABLED=true)');
      return;
    }
    if (this.tokenHash && !this.authorized(req.headers.authorization)) {
      sendJsonError(res, 401, 'unauthorized', 'this endpoint needs the metrics token: send "Authorization: Bearer <metrics-token>"', { 'www-authenticate': 'Bearer realm="metrics"' });
      return;
    }
    res.setHeader('cache-control', 'no-store');
    this.prometheus.getMetricsRequestHandler(req, res);
  };

  private authorized(header: string | undefined): boolean {
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return m !== null && timingSafeEqual(sha256(m[1]!), this.tokenHash!);
  }

  /**
   * Serves `/metrics` on a separate address (`host:port`, e.g. `127.0.0.1:9464`); resolves to its URL.
   */
  async listenMetrics(address: string): Promise<string> {
    const { host, port } = parseListenAddress(address);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') sendJsonError(res, 404, 'not_found', 'only /metrics is served here');
      else if (req.method !== 'GET' && req.method !== 'HEAD') sendJsonError(res, 405, 'method_not_allowed', `${req.method} is not allowed on /metrics`, { allow: 'GET' });
      else this.handleMetrics(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.metricsServer = server;
    const a = server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`;
  }

  /** Flushes what is pending (bounded in time) and stops exporting. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.metricsServer;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    server?.closeAllConnections();
    const flushed = Promise.allSettled([this.meterProvider?.shutdown(), this.tracerProvider?.shutdown()]);
    await Promise.race([Promise.all([flushed, closed]), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

/** Makes the context holding a span (child spans are made under it). */
function withSpan(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

function httpAttributes(method: string, route: string | undefined, status: number | undefined, aborted: boolean): Attributes {
  const attrs: Attributes = { 'http.request.method': method, 'url.scheme': 'http' };
  if (route !== undefined) attrs['http.route'] = route;
  if (status !== undefined) attrs['http.response.status_code'] = status;
  if (aborted) attrs['error.type'] = 'aborted';
  else if (status !== undefined && status >= 500) attrs['error.type'] = String(status);
  return attrs;
}

function callAttributes(report: GuestCallReport): Attributes {
  const attrs: Attributes = { module: report.module, version: report.version, trigger: report.trigger };
  if (report.error) attrs['error.type'] = report.error;
  return attrs;
}

/** `readings_accepted` -> outcome accepted; `readings_rejected_<code>` -> outcome rejected, code. */
function readingsAttributes(name: string): Attributes {
  if (name === 'readings_accepted') return { outcome: 'accepted' };
  if (name === 'readings_duplicate') return { outcome: 'duplicate' };
  if (name.startsWith('readings_rejected_')) return { outcome: 'rejected', code: name.slice('readings_rejected_'.length) };
  return { outcome: name.slice('readings_'.length) };
}

/** The engine's trap message, as a closed set (a label must stay low-cardinality). */
export function trapKind(message: string | undefined): string {
  const m = (message ?? '').toLowerCase();
  if (m.includes('unreachable')) return 'unreachable';
  if (m.includes('memory access out of bounds')) return 'memory_out_of_bounds';
  if (m.includes('table index') || m.includes('signature mismatch') || m.includes('null function')) return 'indirect_call';
  if (m.includes('divide by zero') || m.includes('remainder by zero')) return 'divide_by_zero';
  if (m.includes('unrepresentable') || m.includes('integer overflow')) return 'invalid_conversion';
  if (m.includes('out of bounds')) return 'out_of_bounds';
  return 'other';
}

function nodeResource(config: TelemetryConfig, options: TelemetryOptions): Resource {
  // Ours, then OTEL_RESOURCE_ATTRIBUTES over it, then OTEL_SERVICE_NAME over everything (the spec's order).
  let resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'edge-aggregator', [ATTR_SERVICE_VERSION]: options.serviceVersion, 'service.instance.id': options.nodeId }))
    .merge(detectResources({ detectors: [envDetector] }));
  const env = options.env ?? process.env;
  if (env.OTEL_SERVICE_NAME?.trim()) resource = resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
  return resource;
}

/**
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the SDK reads them, but from the environment
 * this telemetry was given (the SDK itself reads only `process.env`).
 */
function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const raw = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim() && Number.isFinite(raw) && raw >= 0 && raw <= 1 ? raw : 1;
  switch (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTEL_LOG_LEVEL: the SDK's own diagnostics, into the node's log. */
function routeDiagnostics(logger: Logger, level: string): void {
  const levels: Record<string, DiagLogLevel> = { none: DiagLogLevel.NONE, error: DiagLogLevel.ERROR, warn: DiagLogLevel.WARN, info: DiagLogLevel.INFO, debug: DiagLogLevel.DEBUG, verbose: DiagLogLevel.VERBOSE, all: DiagLogLevel.ALL };
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  diag.setLogger(
    {
      error: (msg, ...args) => logger.error(`otel: ${msg} ${text(args)}`.trim()),
      warn: (msg, ...args) => logger.warn(`otel: ${msg} ${text(args)}`.trim()),
      info: (msg, ...args) => logger.info(`otel: ${msg} ${text(args)}`.trim()),
      debug: (msg, ...args) => logger.debug(`otel: ${msg} ${text(args)}`.trim()),
      verbose: (msg, ...args) => logger.debug(`otel: ${msg} ${text(args)}`.trim()),
    },
    { logLevel: levels[level.toLowerCase()] ?? DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`metrics-listen must be host:port (e.g. 127.0.0.1:9464), got "${address}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, statusCode: number, a?: unknown, b?: unknown) => ServerResponse;

/**
 * `ServerResponse.writeHead` that adds `x-request-id` (the request's scope id) to the headers it is given
 * (`writeHead(status[, reason][, headers])`), copying them: callers may pass a shared object.
 */
function writeHeadWithRequestId(this: ScopedResponse, statusCode: number, a?: unknown, b?: unknown): ServerResponse {
  const id = this[SCOPE]?.requestId;
  if (id === undefined || this.hasHeader('x-request-id')) return writeHead.call(this, statusCode, a, b);
  if (typeof a === 'string') return writeHead.call(this, statusCode, a, headersWithId(this, b, id));
  return writeHead.call(this, statusCode, headersWithId(this, a, id));
}

/** A copy of writeHead's `headers` with the request id (or, for the array form, the id set on `res`). */
function headersWithId(res: ServerResponse, headers: unknown, id: string): unknown {
  if (headers === undefined) return { 'x-request-id': id };
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) return { 'x-request-id': id, ...headers };
  res.setHeader('x-request-id', id);
  return headers;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function sendJsonError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}
