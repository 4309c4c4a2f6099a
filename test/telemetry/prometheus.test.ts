/**
 * A real Prometheus (Debian's `prometheus`) scrapes a real node every second; known traffic is sent,
 * and Prometheus's own query API must show counters that match it exactly: readings by outcome and
 * code, HTTP requests by route template, method and status, batch and group sizes, the breaker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually, until } from '../helpers/poll.js';
import { PrometheusServer } from './helpers/servers.js';

const METRICS_TOKEN = 'prom-scrape-secret-7d1f0c';
const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;

let node: NodeProcess;
let prometheus: PrometheusServer;
let gateway: string;
let reader: string;

function reading(i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { device_id: `prom-${i}`, region: 'eu-west', temperature_c: 20 + (i % 10) / 2, timestamp: base + i * 1000, ...overrides };
}

async function post(body: unknown, token = gateway): Promise<number> {
  const res = await node.postReadings(body, token);
  await res.arrayBuffer();
  return res.status;
}

async function get(path: string, token = reader): Promise<number> {
  const res = await node.fetch(path, { token });
  await res.arrayBuffer();
  return res.status;
}

/** Waits until Prometheus has scraped `expected` for `promql`, then asserts it (so a failure shows the last value). */
async function expectScraped(promql: string, expected: number): Promise<void> {
  let last: number | undefined;
  await until(
    async () => {
      last = await prometheus.scalar(promql);
      return last === expected;
    },
    { timeoutMs: 30_000, intervalMs: 500, message: `${promql} == ${expected}` },
  ).catch(() => undefined);
  expect(last, promql).toBe(expected);
}

beforeAll(async () => {
  node = await NodeProcess.start({ env: { EDGEAGG_METRICS_TOKEN: METRICS_TOKEN } });
  [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
  prometheus = await PrometheusServer.start({ target: new URL(node.url).host, bearerToken: METRICS_TOKEN });
});

afterAll(async () => {
  await prometheus?.stop();
  await node?.stop();
  node?.cleanup();
});

describe('GET /metrics', () => {
  it('answers 401 without the metrics token once one is configured, and Prometheus text with it', async () => {
    const anonymous = await node.fetch('/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await node.fetch('/metrics', { token: gateway }).then((r) => r.status)).toBe(401);
    const res = await node.fetch('/metrics', { token: METRICS_TOKEN });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE http_server_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^target_info\{.*service_name="edge-aggregator"/m);
  });
});

describe('what Prometheus scraped matches the traffic sent', () => {
  beforeAll(async () => {
    // 20 new single readings, then 5 of them again (duplicates).
    for (let i = 0; i < 20; i++) expect(await post(reading(i))).toBe(200);
    for (let i = 0; i < 5; i++) expect(await post(reading(i))).toBe(200);
    // A batch of 4: 2 new, one out of range, one missing a field (kept items are kept: 200).
    const { timestamp: _t, ...missing } = reading(103);
    expect(await post([reading(100), reading(101), reading(102, { temperature_c: 5000 }), missing])).toBe(200);
    // Every item rejected: 422.
    expect(await post([reading(104, { device_id: 'bad id!' })])).toBe(422);
    // Refused before the guest: no token, a read token.
    expect(await post(reading(200), '')).toBe(401);
    expect(await post(reading(201), reader)).toBe(403);
    // Reads: 3 aggregates, 1 unknown region, 2 series, 1 path with no route.
    for (let i = 0; i < 3; i++) expect(await get('/v1/regions/eu-west')).toBe(200);
    expect(await get('/v1/regions/nowhere')).toBe(404);
    for (let i = 0; i < 2; i++) expect(await get('/v1/regions/eu-west/series?bucket=1m')).toBe(200);
    expect(await get('/no/such/route')).toBe(404);
  });

  it('scrapes the node (up == 1) and its resource (target_info)', async () => {
    await expectScraped('sum(up{job="edgeagg"})', 1);
    await expectScraped('count(target_info{job="edgeagg",service_name="edge-aggregator"})', 1);
  });

  it('readings accepted, duplicate and rejected by code', async () => {
    await expectScraped('sum(edgeagg_readings_total{outcome="accepted",module="aggregator"})', 22);
    await expectScraped('sum(edgeagg_readings_total{outcome="duplicate"})', 5);
    await expectScraped('sum(edgeagg_readings_total{outcome="rejected",code="out_of_range"})', 1);
    await expectScraped('sum(edgeagg_readings_total{outcome="rejected",code="missing_field"})', 1);
    await expectScraped('sum(edgeagg_readings_total{outcome="rejected",code="invalid_format"})', 1);
    await expectScraped('sum(edgeagg_readings_total{outcome="rejected"})', 3);
    // The guest's own counters, as docs/api.md names them.
    await expectScraped('sum(edgeagg_guest_readings_accepted_total{module="aggregator"})', 22);
  });

  it('http.server.request.duration by route template, method and status; never a raw path', async () => {
    const count = (labels: string): string => `sum(http_server_request_duration_seconds_count{${labels}})`;
    await expectScraped(count('http_route="/v1/readings",http_request_method="POST",http_response_status_code="200"'), 26);
    await expectScraped(count('http_route="/v1/readings",http_request_method="POST",http_response_status_code="422"'), 1);
    await expectScraped(count('http_route="/v1/readings",http_response_status_code="401"'), 1);
    await expectScraped(count('http_route="/v1/readings",http_response_status_code="403"'), 1);
    await expectScraped(count('http_route="/v1/regions/{region}",http_request_method="GET",http_response_status_code="200"'), 3);
    await expectScraped(count('http_route="/v1/regions/{region}",http_response_status_code="404"'), 1);
    await expectScraped(count('http_route="/v1/regions/{region}/series",http_response_status_code="200"'), 2);
    // The request with no route has no http.route at all.
    await expectScraped(count('http_route="",http_response_status_code="404"'), 1);
    expect(await prometheus.query('http_server_request_duration_seconds_count{http_route=~".*(eu-west|nowhere|no/such).*"}')).toEqual([]);
    // Buckets and sum are there too (a latency quantile can be computed).
    const p99 = await prometheus.scalar('histogram_quantile(0.99, sum by (le) (http_server_request_duration_seconds_bucket{http_route="/v1/readings"}))');
    expect(p99).toBeGreaterThan(0);
  });

  it('batch sizes, commit groups and guest invocations', async () => {
    // 27 write requests reached the guest and committed, holding 20 + 5 + 4 + 1 readings.
    await expectScraped('sum(edgeagg_ingest_batch_size_count)', 27);
    await expectScraped('sum(edgeagg_ingest_batch_size_sum)', 30);
    await expectScraped('sum(edgeagg_store_commit_group_size_sum)', 27);
    await expectScraped('sum(edgeagg_store_commit_duration_seconds_count{outcome="committed"})', await prometheus.scalar('sum(edgeagg_store_commit_group_size_count)').then((v) => v ?? -1));
    // 27 writes and 6 reads called the guest's ea_on_http.
    await expectScraped('sum(edgeagg_wasm_call_duration_seconds_count{module="aggregator",trigger="http"})', 33);
    expect(await prometheus.scalar('sum(edgeagg_wasm_call_errors_total)')).toBeUndefined();
  });

  it('the circuit breaker is closed and nothing was shed', async () => {
    await expectScraped('sum(edgeagg_circuit_breaker_state{state="closed"})', 1);
    await expectScraped('sum(edgeagg_circuit_breaker_state{state="open"})', 0);
    await expectScraped('sum(edgeagg_requests_shed_total)', 0);
  });
});

/** Where a node started with `--metrics-listen 127.0.0.1:0` serves /metrics, from its log. */
function metricsUrl(node: NodeProcess): Promise<string> {
  return eventually(() => /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"[^\n]*"msg":"metrics listening"/.exec(node.stderr)?.[1], {
    timeoutMs: 30_000,
    intervalMs: 250,
    message: 'waiting for the metrics address in the log',
  });
}

describe('metrics-listen', () => {
  it('serves /metrics without auth on a separate address when no token is set, and not on the API port', async () => {
    const other = await NodeProcess.start({ flags: { 'metrics-listen': '127.0.0.1:0', 'log-format': 'json' } });
    try {
      const url = await metricsUrl(other);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^# TYPE edgeagg_circuit_breaker_state gauge$/m);
      expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
      expect((await other.fetch('/metrics')).status).toBe(404);
    } finally {
      await other.stop();
      other.cleanup();
    }
  });
});

describe('the fold', () => {
  it('shows the readings whose fold waits, and none once a read has folded them', async () => {
    const other = await NodeProcess.start({ flags: { 'fold-delay-ms': '600000', 'metrics-listen': '127.0.0.1:0', 'log-format': 'json' } });
    try {
      const url = await metricsUrl(other);
      const gauge = async (name: string): Promise<number> => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await (await fetch(url)).text())?.[1]);
      const readings = [0, 1, 2].map((i) => ({ device_id: `fold-${i}`, region: 'fold', temperature_c: 20 + i, timestamp: base + i }));
      const posted = await other.postReadings(readings, await other.token('gateway'));
      expect(posted.status).toBe(200);
      expect(await gauge('edgeagg_fold_waiting')).toBe(3);
      expect(await gauge('edgeagg_fold_quarantined')).toBe(0);
      const read = await other.fetch('/v1/regions/fold', { token: await other.token('read') });
      expect(((await read.json()) as { count: number }).count).toBe(3);
      expect(await gauge('edgeagg_fold_waiting')).toBe(0);
    } finally {
      await other.stop();
      other.cleanup();
    }
  });
});
