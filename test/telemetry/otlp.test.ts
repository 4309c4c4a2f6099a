/**
 * A real node exports over OTLP/HTTP to a receiver in this process, configured only by the standard
 * OTEL_* variables. The receiver decodes the JSON payloads; the test asserts on the spans (names,
 * attributes, the parent/child structure of a request, an incoming traceparent honoured, parent-based
 * sampling) and the metrics. The collector is absent when the first request is traced: its spans
 * must still arrive once it starts (retried with backoff).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually, sleep, until } from '../helpers/poll.js';
import { freePort } from '../helpers/ports.js';
import { OtlpReceiver, type OtlpSpan } from './helpers/servers.js';

const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;
const SERVER = 2; // OTLP SpanKind
const INTERNAL = 1;

const early = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parent: '00f067aa0ba902b7' };
const traced = { traceId: '0af7651916cd43dd8448eb211c80319c', parent: 'b7ad6b7169203331' };
const unsampled = { traceId: 'ffeeddccbbaa99887766554433221100', parent: '1122334455667788' };
/** How long an export may take to show up at the receiver. */
const EXPORTED = { timeoutMs: 30_000, intervalMs: 250 };

let node: NodeProcess;
let receiver: OtlpReceiver | undefined;
let gateway: string;
let reader: string;

function reading(i: number): Record<string, unknown> {
  return { device_id: `otlp-${i}`, region: 'eu-north', temperature_c: 18.5 + i, timestamp: base + i * 1000 };
}

async function post(body: unknown, traceparent?: string): Promise<Response> {
  const res = await node.postReadings(body, gateway, traceparent ? { traceparent } : {});
  await res.arrayBuffer();
  return res;
}

function spansOf(traceId: string): OtlpSpan[] {
  return receiver!.spans().filter((s) => s.traceId === traceId);
}

function one(spans: OtlpSpan[], name: string): OtlpSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name), `spans named ${name} in ${JSON.stringify(spans.map((s) => s.name))}`).toEqual([name]);
  return found[0]!;
}

beforeAll(async () => {
  const port = await freePort();
  node = await NodeProcess.start({
    // The readings' fold waits for the read below (a read folds what waits first), so its span is there.
    flags: { 'log-level': 'debug', 'fold-delay-ms': '600000' },
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'edgeagg-otlp-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      // Short export attempts: the outage below outlasts the exporter's own retries, so the node's
      // backlog must re-send the spans.
      OTEL_EXPORTER_OTLP_TIMEOUT: '300',
    },
  });
  [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
  // The collector is away: this request's spans fail to export at first.
  expect((await post(reading(0), `00-${early.traceId}-${early.parent}-01`)).status).toBe(200);
  await until(() => node.stderr.includes('telemetry export failing'), { timeoutMs: 10_000, intervalMs: 100, message: 'waiting for the export to fail' });
  await sleep(1_000);
  receiver = await OtlpReceiver.start(port);
  expect((await post([reading(1), reading(2)], `00-${traced.traceId}-${traced.parent}-01`)).status).toBe(200);
  expect((await post(reading(3), `00-${unsampled.traceId}-${unsampled.parent}-00`)).status).toBe(200);
  const res = await node.fetch('/v1/regions/eu-north', { token: reader });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
});

afterAll(async () => {
  await node?.stop();
  await receiver?.stop();
  node?.cleanup();
});

describe('traces', () => {
  it('are sent as OTLP/HTTP JSON with the resource from the OTEL_* variables', async () => {
    await until(() => spansOf(traced.traceId).length >= 3, { ...EXPORTED, message: 'waiting for spans of the traced request' });
    const exports = receiver!.requests.filter((r) => r.path === '/v1/traces');
    expect(exports.length).toBeGreaterThan(0);
    for (const e of exports) expect(e.contentType).toMatch(/^application\/json/);
    const server = one(spansOf(traced.traceId), 'POST /v1/readings');
    expect(server.resource).toMatchObject({ 'service.name': 'edgeagg-otlp-test', 'deployment.environment.name': 'test', 'service.version': '0.1.0' });
    expect(server.resource['service.instance.id']).toMatch(/^node-[0-9a-f]{12}$/);
  });

  it('a request is a server span under the incoming traceparent, with the guest call and the store commit as children', async () => {
    await until(() => spansOf(traced.traceId).length >= 3, { ...EXPORTED, message: 'waiting for all three spans' });
    const spans = spansOf(traced.traceId);
    expect(spans).toHaveLength(3);
    const server = one(spans, 'POST /v1/readings');
    expect(server.kind).toBe(SERVER);
    expect(server.parentSpanId).toBe(traced.parent);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/readings',
      'http.response.status_code': 200,
      'url.path': '/v1/readings',
      'url.scheme': 'http',
    });
    const guest = one(spans, 'guest aggregator http');
    const commit = one(spans, 'store.commit');
    expect(guest.parentSpanId).toBe(server.spanId);
    expect(commit.parentSpanId).toBe(server.spanId);
    for (const s of [guest, commit]) expect(s.kind).toBe(INTERNAL);
    expect(guest.attributes).toMatchObject({ 'edgeagg.guest.module': 'aggregator', 'edgeagg.guest.trigger': 'http' });
    expect(commit.attributes['edgeagg.commit.group_size']).toBeGreaterThanOrEqual(1);
    expect(commit.attributes['edgeagg.commit.committed']).toBe(true);
  });

  it('spans made while the collector was away arrive once it is back (one warning, then one recovery, in the log)', async () => {
    const spans = await eventually(() => (spansOf(early.traceId).length >= 3 ? spansOf(early.traceId) : undefined), { ...EXPORTED, timeoutMs: 40_000, message: "waiting for the early request's spans" });
    expect(one(spans, 'POST /v1/readings').parentSpanId).toBe(early.parent);
    const log = node.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.filter((l) => l.msg === 'telemetry export failing; retrying with backoff' && l.signal === 'traces')).toHaveLength(1);
    expect(log.filter((l) => l.msg === 'telemetry export recovered' && l.signal === 'traces')).toHaveLength(1);
  });

  it('a request without traceparent starts a new trace; an unsampled parent (flags 00) makes no span', async () => {
    const read = await eventually(() => receiver!.spans().find((s) => s.name === 'GET /v1/regions/{region}'), { ...EXPORTED, message: "waiting for the read request's span" });
    expect(read.parentSpanId).toBeUndefined();
    expect(read.attributes).toMatchObject({ 'http.route': '/v1/regions/{region}', 'url.path': '/v1/regions/eu-north' });
    // The read first folded the readings that waited for their fold (the guest's events call), then read.
    const children = receiver!.spans().filter((s) => s.parentSpanId === read.spanId);
    expect(children.map((s) => s.name).sort()).toEqual(['guest aggregator events', 'guest aggregator http']);
    expect(spansOf(unsampled.traceId)).toEqual([]);
  });

  it("the node's log lines for a traced request carry its trace id, span id and request id", async () => {
    const server = one(spansOf(traced.traceId), 'POST /v1/readings');
    const lines = node.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.msg === 'request' && l.trace_id === traced.traceId);
    expect(line).toMatchObject({ level: 'debug', span_id: server.spanId, route: '/v1/readings', status: 200 });
    expect(line!.request_id).toEqual(expect.any(String));
  });
});

describe('metrics', () => {
  it('are exported periodically with cumulative counts that match the traffic', async () => {
    // 4 readings accepted, in 3 write requests (each 200) and 1 read.
    await until(() => receiver!.latestPoints('edgeagg.readings').find((p) => p.attributes.outcome === 'accepted')?.value === 4, {
      ...EXPORTED,
      message: 'waiting for a metrics export with all the traffic',
    });
    const exports = receiver!.requests.filter((r) => r.path === '/v1/metrics');
    for (const e of exports) expect(e.contentType).toMatch(/^application\/json/);
    const http = receiver!.latestPoints('http.server.request.duration');
    const writes = http.find((p) => p.attributes['http.route'] === '/v1/readings' && p.attributes['http.request.method'] === 'POST' && p.attributes['http.response.status_code'] === 200);
    expect(writes?.count).toBe(3);
    expect(writes?.resource['service.name']).toBe('edgeagg-otlp-test');
    const reads = http.find((p) => p.attributes['http.route'] === '/v1/regions/{region}');
    expect(reads?.count).toBe(1);
    const accepted = receiver!.latestPoints('edgeagg.readings').find((p) => p.attributes.outcome === 'accepted');
    expect(accepted?.attributes).toMatchObject({ module: 'aggregator', version: '0.1.0' });
    const batches = receiver!.latestPoints('edgeagg.ingest.batch.size');
    expect(batches.reduce((a, p) => a + (p.count ?? 0), 0)).toBe(3);
    expect(batches.reduce((a, p) => a + (p.sum ?? 0), 0)).toBe(4);
    const calls = receiver!.latestPoints('edgeagg.wasm.call.duration').filter((p) => p.attributes.trigger === 'http');
    expect(calls.reduce((a, p) => a + (p.count ?? 0), 0)).toBe(4);
  });
});
