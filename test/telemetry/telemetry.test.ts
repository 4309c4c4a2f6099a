/**
 * Telemetry in-process: redaction, the logger, configuration from the OTEL_* variables, and the
 * metric and span semantics of the hooks (a reading counted once and only once it is committed; the
 * spans of a request and its commit group), against the real OpenTelemetry SDK.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricReader, type HistogramMetricData, type SumMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger, parseListenAddress, redact, redactText, telemetryConfig, Telemetry, trapKind, type Logger, type ReplicationStatsLike } from '../../src/telemetry/index.js';
import { aggregatorCounterMapper } from '../../src/apps/aggregator/metrics.js';
import { runInScope, RequestScope } from '../../src/telemetry/scope.js';
import { BoundHistogram, BoundHistogramProducer } from '../../src/telemetry/bound-histogram.js';
import { AggregationTemporality, type Histogram } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { sleep } from '../helpers/poll.js';

const JWT =
  'eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6ImdhdGV3YXkiLCJpc3MiOiJlZGdlYWdnIn0.AeARhtCMbevnP2RDuyzUAfTUb36S5oJtkd2aeE_8ZCmebVC0G9dUaUHsjohaypm0vyazdmYftFwt5Ig-WI81Bg';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function collect(reader: TestReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, MetricData>();
  for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
  return out;
}

function sum(metrics: Map<string, MetricData>, name: string, match: Record<string, unknown> = {}): number {
  const m = metrics.get(name) as SumMetricData | undefined;
  if (!m) return 0;
  return m.dataPoints.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v)).reduce((a, p) => a + p.value, 0);
}

function histogramCount(metrics: Map<string, MetricData>, name: string, match: Record<string, unknown> = {}): { count: number; sum: number } {
  const m = metrics.get(name) as HistogramMetricData | undefined;
  const points = (m?.dataPoints ?? []).filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return { count: points.reduce((a, p) => a + p.value.count, 0), sum: points.reduce((a, p) => a + (p.value.sum ?? 0), 0) };
}

const aggregator = { name: 'aggregator', version: '1.2.3' };
const telemetries: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(telemetries.splice(0).map((t) => t.shutdown()));
});

function makeTelemetry(options: { spans?: InMemorySpanExporter; env?: NodeJS.ProcessEnv; metricsToken?: string } = {}): { telemetry: Telemetry; reader: TestReader } {
  let reader: TestReader | undefined;
  const telemetry = new Telemetry({
    logger: quiet,
    nodeId: 'node-test',
    serviceVersion: '0.0.0',
    env: options.env ?? {},
    metricsToken: options.metricsToken,
    guestCounters: [aggregatorCounterMapper],
    metricReaders: [(metricProducers) => (reader = new TestReader({ metricProducers }))],
    spanExporter: options.spans,
  });
  telemetries.push(telemetry);
  return { telemetry, reader: reader! };
}

describe('redaction', () => {
  it('masks JWTs, bearer and basic credentials, token parameters and private keys inside any text', () => {
    expect(redactText(`bad token ${JWT} here`)).toBe('bad token [REDACTED] here');
    expect(redactText('authorization: Bearer abc.def-ghi')).toBe('authorization: Bearer [REDACTED]');
    expect(redactText('Basic dXNlcjpwYXNz')).toBe('Basic [REDACTED]');
    expect(redactText('/v1/stream?access_token=sekrit&x=1')).toBe('/v1/stream?access_token=[REDACTED]&x=1');
    expect(redactText('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----')).toBe('[REDACTED]');
    expect(redactText('nothing to see')).toBe('nothing to see');
  });

  it('masks secret-named fields whatever they hold, and walks errors, arrays and nested objects', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const error = new Error(`token ${JWT} refused`, { cause: new Error('Bearer xyz') });
    const out = redact({
      headers: { authorization: 'anything at all', 'x-api-key': 'k', host: 'h' },
      metricsToken: 'plain',
      password: 'p',
      list: [`x ${JWT}`],
      error,
      cyclic,
    }) as Record<string, unknown>;
    const text = JSON.stringify(out);
    expect(text).not.toContain(JWT);
    expect(text).not.toContain('anything at all');
    expect(text).not.toContain('plain');
    expect(text).not.toContain('xyz');
    expect((out.headers as Record<string, unknown>).host).toBe('h');
    expect(out.error).toMatchObject({ type: 'Error', message: 'token [REDACTED] refused', cause: { message: 'Bearer [REDACTED]' } });
    expect((out.cyclic as Record<string, unknown>).self).toBe('[Circular]');
  });
});

describe('logger', () => {
  it('writes one JSON object per line with level, time and msg, redacted', () => {
    const lines: string[] = [];
    const log = createLogger('info', { destination: (l) => lines.push(l), format: 'json' });
    log.debug('not written');
    log.info(`hello ${JWT}`, { authorization: `Bearer ${JWT}`, n: 1 });
    log.error('failed', { error: new TypeError('boom') });
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 'info', msg: 'hello [REDACTED]', authorization: '[REDACTED]', n: 1 });
    expect(new Date(first.time as string).toISOString()).toBe(first.time);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'error', error: { type: 'TypeError', message: 'boom' } });
    expect(lines.join('')).not.toContain(JWT);
  });

  it('adds the request id, and the trace and span ids of a traced request, to lines written while it is handled', () => {
    const lines: string[] = [];
    const log = createLogger('info', { destination: (l) => lines.push(l), format: 'json' });
    const scope = new RequestScope('req-1', 'GET');
    runInScope(scope, () => log.info('inside'));
    log.info('outside');
    scope.span = { spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }) } as unknown as RequestScope['span'];
    runInScope(scope, () => log.warn('traced'));
    const [inside, outside, traced] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).toMatchObject({ request_id: 'req-1' });
    expect(outside!.request_id).toBeUndefined();
    expect(traced).toMatchObject({ request_id: 'req-1', trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) });
  });
});

describe('configuration', () => {
  it('traces only when an OTLP endpoint is set, the exporter is otlp and sampling is not always_off', () => {
    expect(telemetryConfig({}).tracing).toBe(false);
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toMatchObject({ tracing: true, otlpMetrics: true });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces' })).toMatchObject({ tracing: true, otlpMetrics: false });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_SAMPLER: 'always_off' }).tracing).toBe(false);
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus' })).toMatchObject({ tracing: false, otlpMetrics: false });
    expect(telemetryConfig({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' })).toMatchObject({ disabled: true, tracing: false, otlpMetrics: false });
    expect(telemetryConfig({ OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_METRIC_EXPORT_TIMEOUT: '9000' })).toMatchObject({ metricExportIntervalMs: 500, metricExportTimeoutMs: 500 });
    expect(telemetryConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).warnings).toHaveLength(1);
  });

  it('parses the metrics listen address', () => {
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => parseListenAddress('9464')).toThrow(/host:port/);
  });

  it('is a no-op with OTEL_SDK_DISABLED=true', () => {
    const t = new Telemetry({ logger: quiet, nodeId: 'n', serviceVersion: '0', env: { OTEL_SDK_DISABLED: 'true' } });
    expect(t.enabled).toBe(false);
    expect(t.requestObserver).toBeUndefined();
    expect(t.pipelineObserver).toBeUndefined();
    t.onCall({ module: 'm', version: '1', trigger: 'http', durationMs: 1 });
    t.onMetric(aggregator, 'readings_accepted', 1);
  });
});

describe('guest metrics', () => {
  it('counts readings by outcome and code, per module and version, and the guest counters by name', async () => {
    const { telemetry, reader } = makeTelemetry();
    telemetry.onMetric(aggregator, 'readings_accepted', 3);
    telemetry.onMetric(aggregator, 'readings_duplicate', 1);
    telemetry.onMetric(aggregator, 'readings_rejected_out_of_range', 2);
    telemetry.onMetric(aggregator, 'events_folded', 3);
    telemetry.onMetric(aggregator, 'events_folded', -1); // a counter never goes down
    const m = await collect(reader);
    const mod = { module: 'aggregator', version: '1.2.3' };
    expect(sum(m, 'edgeagg.readings', { ...mod, outcome: 'accepted' })).toBe(3);
    expect(sum(m, 'edgeagg.readings', { ...mod, outcome: 'duplicate' })).toBe(1);
    expect(sum(m, 'edgeagg.readings', { ...mod, outcome: 'rejected', code: 'out_of_range' })).toBe(2);
    expect(sum(m, 'edgeagg.guest.readings_accepted', mod)).toBe(3);
    expect(sum(m, 'edgeagg.guest.events_folded', mod)).toBe(3);
  });

  it('maps guest counters only through the mappers an app registers, into the counter each declares', async () => {
    let reader: TestReader | undefined;
    const telemetry = new Telemetry({
      logger: quiet,
      nodeId: 'n',
      serviceVersion: '0',
      env: {},
      guestCounters: [{ instrument: { name: 'app.widgets', description: 'Widgets.', unit: '{widget}' }, attributes: (c) => (c.startsWith('widgets_') ? { kind: c.slice(8) } : undefined) }],
      metricReaders: [(metricProducers) => (reader = new TestReader({ metricProducers }))],
    });
    telemetries.push(telemetry);
    const p = telemetry.pipelineObserver!;
    const a = new RequestScope('a', 'POST');
    p.execute([a], () => p.job(a, () => {
      telemetry.onMetric(aggregator, 'widgets_blue', 2);
      telemetry.onMetric(aggregator, 'readings_accepted', 3);
    }));
    p.group({ size: 1, durationMs: 1, failed: false, committed: true }, [a]);
    const m = await collect(reader!);
    expect(sum(m, 'app.widgets', { module: 'aggregator', version: '1.2.3', kind: 'blue' })).toBe(2);
    expect(m.has('edgeagg.readings')).toBe(false);
    expect(sum(m, 'edgeagg.guest.readings_accepted')).toBe(3);
    // Not declared as a request's items: no batch size.
    expect(histogramCount(m, 'edgeagg.ingest.batch.size').count).toBe(0);
  });

  it('times calls, and counts failures by code and trap kind, deadline hits and memory-cap hits', async () => {
    const { telemetry, reader } = makeTelemetry();
    const call = { module: 'm', version: '1', trigger: 'http' };
    telemetry.onCall({ ...call, durationMs: 2, memoryBytes: 65536, memoryLimitBytes: 131072 });
    telemetry.onCall({ ...call, durationMs: 50, error: 'deadline_exceeded' });
    telemetry.onCall({ ...call, durationMs: 1, error: 'guest_trap', trap: 'unreachable' });
    telemetry.onCall({ ...call, durationMs: 1, error: 'guest_trap', trap: 'memory access out of bounds', memoryBytes: 131072, memoryLimitBytes: 131072 });
    const m = await collect(reader);
    expect(histogramCount(m, 'edgeagg.wasm.call.duration', { module: 'm', version: '1', trigger: 'http' }).count).toBe(4);
    expect(sum(m, 'edgeagg.wasm.call.errors', { 'error.type': 'deadline_exceeded' })).toBe(1);
    expect(sum(m, 'edgeagg.wasm.call.errors', { 'error.type': 'guest_trap', trap: 'unreachable' })).toBe(1);
    expect(sum(m, 'edgeagg.wasm.call.errors', { 'error.type': 'guest_trap', trap: 'memory_out_of_bounds' })).toBe(1);
    expect(sum(m, 'edgeagg.wasm.deadline_exceeded', { module: 'm' })).toBe(1);
    expect(sum(m, 'edgeagg.wasm.memory_cap_hits', { module: 'm' })).toBe(1);
    expect(trapKind('divide by zero')).toBe('divide_by_zero');
    expect(trapKind('null function or function signature mismatch')).toBe('indirect_call');
    expect(trapKind('something new')).toBe('other');
  });

  it('counts a request\'s readings once, and only when its group commits (a rerun job or a rolled-back group counts nothing twice)', async () => {
    const { telemetry, reader } = makeTelemetry();
    const p = telemetry.pipelineObserver!;
    const a = new RequestScope('a', 'POST');
    const b = new RequestScope('b', 'POST');
    const write = (n: number) => () => telemetry.onMetric(aggregator, 'readings_accepted', n);
    // Group 1: a's job runs, the fold fails, the group is retried job by job (a runs again): counted once.
    p.execute([a, b], () => {
      p.job(a, write(2));
      p.job(b, write(5));
      p.job(a, write(2));
      expect(() => p.job(b, () => { write(5)(); throw new Error('its fold failed'); })).toThrow();
    });
    let m = await collect(reader);
    expect(sum(m, 'edgeagg.readings')).toBe(0); // nothing before the commit
    p.group({ size: 2, durationMs: 3, failed: false, committed: true }, [a, b]);
    m = await collect(reader);
    expect(sum(m, 'edgeagg.readings', { outcome: 'accepted' })).toBe(2);
    expect(histogramCount(m, 'edgeagg.ingest.batch.size')).toEqual({ count: 1, sum: 2 });
    // Group 2: rolled back: nothing counted. Group 3: only the fsync failed: the readings are in the log.
    p.execute([a], () => p.job(a, write(7)));
    p.group({ size: 1, durationMs: 1, failed: true, committed: false }, [a]);
    p.execute([b], () => p.job(b, write(11)));
    p.group({ size: 1, durationMs: 1, failed: true, committed: true }, [b]);
    m = await collect(reader);
    expect(sum(m, 'edgeagg.readings', { outcome: 'accepted' })).toBe(13);
    expect(histogramCount(m, 'edgeagg.store.commit.group.size')).toEqual({ count: 3, sum: 4 });
    expect(histogramCount(m, 'edgeagg.store.commit.duration', { outcome: 'committed' }).count).toBe(1);
    expect(histogramCount(m, 'edgeagg.store.commit.duration', { outcome: 'rolled_back' }).count).toBe(1);
    expect(histogramCount(m, 'edgeagg.store.commit.duration', { outcome: 'sync_failed' }).count).toBe(1);
  });

  it('reads the circuit breaker, the shedder and replication at collection time', async () => {
    const { telemetry, reader } = makeTelemetry();
    const breaker = { state: 'closed' };
    telemetry.observeBreaker(breaker);
    telemetry.observeShedder({ shed: 4, inFlight: 2 });
    let stats: ReplicationStatsLike | undefined = undefined;
    telemetry.observeReplication(() => stats);
    breaker.state = 'open';
    telemetry.breakerChanged('open');
    let m = await collect(reader);
    expect(sum(m, 'edgeagg.circuit_breaker.state', { state: 'open' })).toBe(1);
    expect(sum(m, 'edgeagg.circuit_breaker.state', { state: 'closed' })).toBe(0);
    expect(sum(m, 'edgeagg.circuit_breaker.transitions', { state: 'open' })).toBe(1);
    expect(sum(m, 'edgeagg.requests.shed')).toBe(4);
    expect(sum(m, 'edgeagg.requests.in_flight')).toBe(2);
    expect(m.has('edgeagg.replication.outbox.depth')).toBe(false);
    // As src/replication's Replicator.stats() answers (typed: ReplicationStats satisfies ReplicationStatsLike).
    stats = {
      at: 10_000,
      connection: { state: 'connected' },
      self: { outboxDepth: 12, lagMs: 1500 },
      peers: [{ nodeId: 'node-b', outboxDepth: 1, lagMs: 250, lastContactAt: 9_200 }],
      publisher: { published: 40, failures: 1 },
      consumer: { applied: 30, duplicates: 2, conflicts: 1 },
      antiEntropy: { rounds: 3, repairedIn: 5, repairedOut: 6, conflicts: 2 },
    };
    m = await collect(reader);
    expect(sum(m, 'edgeagg.replication.connected')).toBe(1);
    expect(sum(m, 'edgeagg.replication.outbox.depth')).toBe(12);
    expect(sum(m, 'edgeagg.replication.lag')).toBe(1.5);
    expect(sum(m, 'edgeagg.replication.published')).toBe(40);
    expect(sum(m, 'edgeagg.replication.publish.failures')).toBe(1);
    expect(sum(m, 'edgeagg.replication.anti_entropy.rounds')).toBe(3);
    expect(sum(m, 'edgeagg.replication.anti_entropy.repairs', { direction: 'in' })).toBe(5);
    expect(sum(m, 'edgeagg.replication.anti_entropy.repairs', { direction: 'out' })).toBe(6);
    expect(sum(m, 'edgeagg.replication.received', { outcome: 'applied' })).toBe(30);
    expect(sum(m, 'edgeagg.replication.received', { outcome: 'duplicate' })).toBe(2);
    // The consumer's conflicts and anti-entropy's, together.
    expect(sum(m, 'edgeagg.replication.received', { outcome: 'conflict' })).toBe(3);
    expect(sum(m, 'edgeagg.replication.peer.lag', { peer: 'node-b' })).toBe(0.25);
    expect(sum(m, 'edgeagg.replication.peer.outbox.depth', { peer: 'node-b' })).toBe(1);
    expect(sum(m, 'edgeagg.replication.peer.last_contact_age', { peer: 'node-b' })).toBe(0.8);
  });
});

describe('the Prometheus text', () => {
  it('renders every instrument as Prometheus text, for the HTTP layer to serve', async () => {
    const { telemetry } = makeTelemetry();
    telemetry.onMetric(aggregator, 'readings_rejected_out_of_range', 2);
    const m = await telemetry.renderMetrics();
    expect(m.contentType).toBe('text/plain');
    expect(m.body).toMatch(/^target_info\{.*service_instance_id="node-test"/m);
    expect(m.body).toMatch(/^# TYPE edgeagg_readings_total counter$/m);
    expect(m.body).toContain('edgeagg_readings_total{module="aggregator",version="1.2.3",outcome="rejected",code="out_of_range",');
  });

  it('accepts any request without a metrics token, and with one only that token', () => {
    expect(makeTelemetry().telemetry.metricsTokenAccepted(undefined)).toBe(true);
    const { telemetry } = makeTelemetry({ metricsToken: 'sekrit' });
    expect(telemetry.metricsTokenAccepted(undefined)).toBe(false);
    expect(telemetry.metricsTokenAccepted('')).toBe(false);
    expect(telemetry.metricsTokenAccepted('sekri')).toBe(false);
    expect(telemetry.metricsTokenAccepted('sekrit')).toBe(true);
  });

  it('has nothing to render when disabled', async () => {
    const t = new Telemetry({ logger: quiet, nodeId: 'n', serviceVersion: '0', env: { OTEL_SDK_DISABLED: 'true' } });
    await expect(t.renderMetrics()).rejects.toThrow(/disabled/);
  });
});

describe('bound histograms', () => {
  it('count a value equal to a bound in that bound\'s bucket, and report cumulatively or as deltas', async () => {
    const h = new BoundHistogram('x.duration', 'd', 's', [1, 5]);
    const a = h.bind('a', () => ({ k: 'a' }));
    for (const v of [0.5, 1, 3, 5, 6, -1, NaN]) h.record(a, v);
    const resource = resourceFromAttributes({});
    const scope = { name: 's' };
    const cumulative = new BoundHistogramProducer([h], resource, scope, AggregationTemporality.CUMULATIVE);
    const delta = new BoundHistogramProducer([h], resource, scope, AggregationTemporality.DELTA);
    const value = async (p: BoundHistogramProducer): Promise<Histogram> => (await p.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as Histogram;
    expect(await value(cumulative)).toMatchObject({ count: 5, sum: 15.5, min: 0.5, max: 6, buckets: { boundaries: [1, 5], counts: [2, 2, 1] } });
    expect(await value(delta)).toMatchObject({ count: 5, buckets: { counts: [2, 2, 1] } });
    h.record(a, 2);
    expect(await value(delta)).toMatchObject({ count: 1, sum: 2, buckets: { counts: [0, 1, 0] } });
    expect(await value(cumulative)).toMatchObject({ count: 6, buckets: { counts: [2, 3, 1] } });
  });
});

describe('request telemetry', () => {
  /** A node:http server whose handler plays the write path through the hooks. */
  async function serve(telemetry: Telemetry, handler: (req: IncomingMessage, res: ServerResponse, scope: unknown) => void): Promise<{ url: string; close: () => Promise<void> }> {
    const observer = telemetry.requestObserver!;
    const server = createServer((req, res) => handler(req, res, observer.begin(req, res)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, close: () => new Promise((r) => server.close(() => r())) };
  }

  it('records http.server.request.duration by route template, never by raw path, with at most 64 routes', async () => {
    const { telemetry, reader } = makeTelemetry();
    const observer = telemetry.requestObserver!;
    const s = await serve(telemetry, (req, res, scope) => {
      if (req.url !== '/nowhere') observer.route(scope, req.url!.startsWith('/r/') ? '/r/{id}' : req.url!);
      res.writeHead(req.url === '/nowhere' ? 404 : 200).end();
    });
    try {
      for (const path of ['/r/1', '/r/2', '/nowhere', ...Array.from({ length: 70 }, (_, i) => `/many/${i}`)]) {
        const res = await fetch(`${s.url}${path}`, { headers: { 'x-request-id': 'abc-123' } });
        expect(res.headers.get('x-request-id')).toBe('abc-123');
        await res.arrayBuffer();
      }
      const invalid = await fetch(`${s.url}/r/3`, { headers: { 'x-request-id': 'bad id with spaces' } });
      expect(invalid.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    } finally {
      await s.close();
    }
    const m = await collect(reader);
    const routes = new Set((m.get('http.server.request.duration') as HistogramMetricData).dataPoints.map((p) => p.attributes['http.route']));
    expect(histogramCount(m, 'http.server.request.duration', { 'http.route': '/r/{id}', 'http.request.method': 'GET', 'http.response.status_code': 200 }).count).toBe(3);
    expect(histogramCount(m, 'http.server.request.duration', { 'http.route': undefined, 'http.response.status_code': 404 }).count).toBe(1);
    expect(routes.size).toBe(64 + 2); // 64 templates, `_OTHER`, and none (the 404)
    expect(histogramCount(m, 'http.server.request.duration', { 'http.route': '_OTHER' }).count).toBeGreaterThan(0);
  });

  it('makes a server span per request, with the guest call, the commit and its fold as children, under an incoming traceparent', async () => {
    const spans = new InMemorySpanExporter();
    const { telemetry } = makeTelemetry({ spans });
    const observer = telemetry.requestObserver!;
    const pipeline = telemetry.pipelineObserver!;
    const s = await serve(telemetry, (_req, res, scope) => {
      observer.route(scope, '/v1/readings');
      pipeline.execute([scope], () => {
        pipeline.job(scope, () => telemetry.onCall({ module: 'aggregator', version: '1', trigger: 'http', durationMs: 0.5 }));
        telemetry.onCall({ module: 'aggregator', version: '1', trigger: 'events', durationMs: 0.2 });
      });
      pipeline.group({ size: 1, durationMs: 2, failed: false, committed: true }, [scope]);
      res.writeHead(200).end();
    });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    try {
      await (await fetch(`${s.url}/v1/readings`, { method: 'POST', headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } })).arrayBuffer();
      await (await fetch(`${s.url}/v1/readings`, { method: 'POST', headers: { traceparent: `00-${'1'.repeat(32)}-b7ad6b7169203331-00` } })).arrayBuffer();
    } finally {
      await s.close();
    }
    await sleep(50);
    const finished = spans.getFinishedSpans();
    // The unsampled parent (flags 00) made no span: parent-based sampling.
    expect(finished.every((sp) => sp.spanContext().traceId === traceId)).toBe(true);
    const byName = new Map(finished.map((sp) => [sp.name, sp]));
    const server = byName.get('POST /v1/readings')!;
    expect(server.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(server.attributes).toMatchObject({ 'http.route': '/v1/readings', 'http.response.status_code': 200, 'http.request.method': 'POST' });
    const guest = byName.get('guest aggregator http')!;
    const commit = byName.get('store.commit')!;
    const fold = byName.get('guest aggregator events')!;
    expect(guest.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(commit.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(fold.parentSpanContext?.spanId).toBe(commit.spanContext().spanId);
    expect(commit.attributes['edgeagg.commit.group_size']).toBe(1);
  });
});
