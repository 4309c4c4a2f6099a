/**
 * docs/openapi.yaml is a valid OpenAPI 3.1 description, and a real node answers as it says: every
 * documented operation is called, each answer's status is documented for it, and its headers and body
 * validate against the documented schemas.
 */
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capability } from '../../src/runtime/index.js';
import { aggregatorVersion, signed, trustingDataDir, type AppView, type DeployBody, type SignedModule } from '../deploy/deploy-fixtures.js';
import { ROOT, builtGuest } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually, sleep } from '../helpers/poll.js';
import { HTTP_METHODS, OpenApiChecker, UNROUTED, loadOpenApi, parseEvents, resolvePointer, structuralProblems, type Answer, type OpenApiDocument } from './openapi-check.js';

const doc = loadOpenApi(`${ROOT}docs/openapi.yaml`);
const checker = new OpenApiChecker(doc);
const ITEM_CODES = (doc.components.schemas.ItemErrorCode.enum as string[]).slice();

describe('docs/openapi.yaml as a document', () => {
  it('is OpenAPI 3.1: references resolve, every operation has responses, every schema compiles', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(structuralProblems(doc)).toEqual([]);
  });

  it('names the package version and the default server', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.servers[0].url).toBe('http://127.0.0.1:8787');
  });

  it('has the codes docs/api.md lists: every item error code, and every error code of its tables', () => {
    const prose = readFileSync(`${ROOT}docs/api.md`, 'utf8');
    const itemRows = [...prose.matchAll(/^\| \d{1,2} \| `(\w+)` \|/gm)].map((m) => m[1]!);
    expect(new Set(itemRows)).toEqual(new Set(ITEM_CODES));
    const statusRows = [...prose.matchAll(/^\| \d{3} \| ([^|]*) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`(\w+)`/g)].map((c) => c[1]!));
    expect(statusRows.length).toBeGreaterThan(20);
    const codes = doc.components.schemas.ErrorCode.enum as string[];
    expect(statusRows.filter((code) => !codes.includes(code))).toEqual([]);
  });

  it('finds what is wrong with a broken document', () => {
    const broken = structuredClone(doc) as OpenApiDocument;
    broken.openapi = '3.0.3';
    broken.paths['/v1/node'].get.responses = {};
    broken.paths['/v1/regions/{region}'].get.parameters = [];
    broken.components.schemas.Series.properties.buckets.items.$ref = '#/components/schemas/NoSuchSchema';
    broken.components.schemas.Reading.properties.region.type = 'text';
    broken.components.schemas.RegionAggregate.example.count = -1;
    const problems = structuralProblems(broken).join('\n');
    expect(problems).toMatch(/not 3\.1/);
    expect(problems).toMatch(/GET \/v1\/node: no responses/);
    expect(problems).toMatch(/\{region\} is not declared/);
    expect(problems).toMatch(/NoSuchSchema resolves to nothing/);
    expect(problems).toMatch(/Reading: not a JSON Schema/);
    expect(problems).toMatch(/RegionAggregate\/example: does not validate/);
  });

  it('fails answers that are not as documented', () => {
    const node = { 'content-type': 'application/json', 'x-request-id': 'r1' };
    const json = { ...node, 'x-edgeagg-version': '0.1.0' };
    const region = { region: 'r', count: 0, sum: 0, mean: null, min: null, max: null, last: null, p50: null, p90: null, p99: null };
    expect(checker.check('GET', '/v1/regions/r', { status: 200, headers: json, body: JSON.stringify(region) })).toEqual([]);
    expect(checker.check('GET', '/v1/regions/r', { status: 200, headers: node, body: JSON.stringify(region) }).join()).toMatch(/x-edgeagg-version is required/);
    // A wrong body, an undocumented status, content type, error code, a missing header.
    expect(checker.check('GET', '/v1/regions/r', { status: 200, headers: json, body: JSON.stringify({ ...region, count: 1 }) }).join()).toMatch(/must be number/);
    expect(checker.check('GET', '/v1/regions/r', { status: 200, headers: json, body: JSON.stringify({ region: 'r' }) }).join()).toMatch(/required/);
    expect(checker.check('GET', '/v1/regions/r', { status: 418, headers: json, body: '{}' }).join()).toMatch(/status 418 is not documented/);
    expect(checker.check('GET', '/v1/regions/r', { status: 200, headers: { ...json, 'content-type': 'text/html' }, body: '' }).join()).toMatch(/content type "text\/html"/);
    const error = (code: string) => JSON.stringify({ error: { code, message: 'm' } });
    expect(checker.check('GET', '/v1/regions/r', { status: 404, headers: json, body: error('not_found') })).toEqual([]);
    expect(checker.check('GET', '/v1/regions/r', { status: 404, headers: json, body: error('forbidden') }).join()).toMatch(/must be equal to constant/);
    expect(checker.check('POST', '/v1/readings', { status: 429, headers: json, body: error('rate_limited') }).join()).toMatch(/Retry-After is required/);
    expect(checker.check('DELETE', '/nowhere', { status: 200, headers: json, body: '{}' }).join()).toMatch(/unrouted/);
    const items = { accepted: 0, duplicates: 0, rejected: 1, results: [{ status: 'rejected', error: { code: 'no_such_code', message: 'm' } }] };
    expect(checker.check('POST', '/v1/readings', { status: 422, headers: json, body: JSON.stringify(items) }).join()).toMatch(/allowed values/);
  });

  it('checks app routes: any path under the app, the guest\'s own answers, the node\'s', () => {
    const node = { 'content-type': 'application/json', 'x-request-id': 'r1' };
    const guest = { ...node, 'x-edgeagg-version': '1.0.0, 1.1.0' };
    expect(checker.template('/apps/notes/kv/a/b?x=1')).toBe('/apps/{app}/{path}');
    expect(checker.template('/apps/notes')).toBeUndefined();
    expect(checker.template('/v1/deployments/aggregator/promote')).toBe('/v1/deployments/{app}/promote');
    // A guest answers any status and content type; the node's answers are as documented for their status.
    expect(checker.check('PUT', '/apps/notes/kv/a', { status: 204, headers: { ...guest, 'content-type': 'text/plain' }, body: '' })).toEqual([]);
    expect(checker.check('GET', '/apps/notes/x', { status: 403, headers: guest, body: '{"error":{"code":"denied"}}' })).toEqual([]);
    expect(checker.check('GET', '/apps/notes/x', { status: 403, headers: node, body: '{"error":{"code":"denied","message":"m"}}' }).join()).toMatch(/allowed values|constant/);
    expect(checker.check('GET', '/apps/notes/x', { status: 404, headers: node, body: '{"error":{"code":"unknown_app","message":"m"}}' })).toEqual([]);
    expect(checker.check('GET', '/apps/notes/x', { status: 418, headers: node, body: '{}' }).join()).toMatch(/x-edgeagg-version is required/);
    expect(checker.check('GET', '/apps/notes/x', { status: 200, headers: { ...guest, 'x-edgeagg-version': 'a,,b' }, body: '{}' }).join()).toMatch(/pattern/);
  });
});

/** Operations called (`GET /v1/regions`), and the statuses each answered. */
const covered = new Map<string, Set<number>>();
const itemCodes = new Set<string>();

describe('a real node answers as docs/openapi.yaml says', () => {
  let node: NodeProcess;
  let read: string;
  let gateway: string;
  let admin: string;
  const now = Date.now();
  const reading = (device: string, region: string, temperature: number, timestamp = now) => ({ device_id: device, region, temperature_c: temperature, timestamp });

  beforeAll(async () => {
    // Its data directory trusts the test key, so the modules the deployment tests sign are accepted.
    node = await NodeProcess.start({
      dataDir: trustingDataDir(),
      flags: {
        'canary-min-calls': '1000000',
        'max-module-bytes': '100000',
        'max-regions': '5',
        'max-streams': '1',
        'metrics-token': 'metrics-secret',
        'rate-limit-per-device': '1',
        'rate-limit-per-device-burst': '2',
        'min-body-rate': '1024',
        'min-body-grace-ms': '300',
      },
    });
    read = await node.token('read');
    gateway = await node.token('gateway');
    admin = await node.token('admin', 'ops');
  });

  afterAll(async () => {
    await node?.stop();
    if (node) rmSync(node.dataDir, { recursive: true, force: true });
  });

  /** Records the answer and fails the test unless it is as documented. */
  function expectDocumented(method: string, path: string, answer: Answer): void {
    expect(checker.check(method, path, answer), `${method} ${path} -> ${answer.status}: ${answer.body.slice(0, 300)}`).toEqual([]);
    const op = checker.operation(method, path);
    const key = op ? `${method.toUpperCase()} ${op.template}` : `${method.toUpperCase()} (unrouted)`;
    if (!covered.has(key)) covered.set(key, new Set());
    covered.get(key)!.add(answer.status);
    if (answer.body.startsWith('{"accepted"')) {
      for (const r of (JSON.parse(answer.body) as { results: Array<{ error?: { code: string } }> }).results) if (r.error) itemCodes.add(r.error.code);
    }
  }

  async function call(method: string, path: string, init: { token?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer & { headers: Headers; json: () => unknown }> {
    const res = await node.fetch(path, { method, token: init.token, headers: init.headers, body: init.body });
    const answer = { status: res.status, headers: res.headers, body: await res.text() };
    expectDocumented(method, path, answer);
    return { ...answer, json: () => JSON.parse(answer.body) };
  }

  const post = (body: unknown, token = gateway, headers: Record<string, string> = {}) =>
    call('POST', '/v1/readings', { token, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  const postJson = (path: string, body: unknown, token = admin) =>
    call('POST', path, { token, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  const deploy = (module: SignedModule, body: DeployBody = {}, token = admin) =>
    postJson('/v1/deployments', { module_base64: Buffer.from(module.wasm).toString('base64'), signature: module.signature, ...body }, token);

  /** Lists the deployments (each answer checked) until the app's view passes `test`. */
  const until = (app: string, test: (view: AppView) => boolean, what: string) =>
    eventually(
      async () => {
        const view = ((await call('GET', '/v1/deployments', { token: admin })).json() as { apps: AppView[] }).apps.find((a) => a.app === app);
        return view && test(view) ? view : undefined;
      },
      { timeoutMs: 30_000, message: what },
    );

  const code = (answer: { json: () => unknown }) => (answer.json() as { error: { code: string } }).error.code;

  /** A request through node:http, for what fetch cannot do (a body that stalls, `Expect: 100-continue`). */
  function raw(headers: Record<string, string | number>, send: (req: ReturnType<typeof request>) => void): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(`${node.url}/v1/readings`, { method: 'POST', headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => {
          resolve({ status: res.statusCode!, headers: res.headers, body });
          req.destroy();
        });
      });
      req.on('error', reject);
      send(req);
    });
  }

  it('POST /v1/readings: one reading, a batch and NDJSON (200)', async () => {
    expect((await post(reading('sensor-1', 'eu-west', 21.5))).status).toBe(200);
    const batch = await post([reading('sensor-1', 'eu-west', 21.5), reading('sensor-2', 'eu-west', 23), reading('sensor-3', 'eu-west', 1001)]);
    expect(batch.status).toBe(200);
    expect(batch.json()).toMatchObject({ accepted: 1, duplicates: 1, rejected: 1 });
    const ndjson = `${JSON.stringify(reading('sensor-4', 'eu-west', 19.5))}\n{not json\n\n`;
    const res = await call('POST', '/v1/readings', { token: gateway, headers: { 'content-type': 'application/x-ndjson' }, body: ndjson });
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 1 });
  });

  it('POST /v1/readings: regions up to --max-regions, then too_many_regions', async () => {
    const res = await post(['p1', 'p2', 'p3', 'p4'].map((r, i) => reading(`sensor-${r}`, r, 10 + i)));
    expect(res.json()).toMatchObject({ accepted: 4 });
  });

  it('POST /v1/readings: every reading rejected (422), one item error code each', async () => {
    const t = now - (now % 1000);
    const items = [
      '42',
      JSON.stringify({ ...reading('d', 'eu-west', 1), extra: 1 }),
      `{"device_id":"d","device_id":"d","region":"eu-west","temperature_c":1,"timestamp":${t}}`,
      JSON.stringify({ device_id: 'd', region: 'eu-west', temperature_c: 1 }),
      JSON.stringify({ device_id: 'd', region: 'eu-west', temperature_c: '1', timestamp: t }),
      JSON.stringify(reading('bad id!', 'eu-west', 1)),
      JSON.stringify(reading('d', 'eu-west', 2000)),
      JSON.stringify(reading('d', 'eu-west', 1, now + 3_600_000)),
      JSON.stringify(reading('d', 'eu-west', 1, now - 8 * 24 * 3_600_000)),
      JSON.stringify(reading('sensor-1', 'eu-west', 99)),
      JSON.stringify(reading('d', 'p5', 1)),
    ];
    const res = await post(`[${items.join(',')}]`);
    expect(res.status).toBe(422);
    expect((res.json() as { results: Array<{ error: { code: string } }> }).results.map((r) => r.error.code)).toEqual([
      'invalid_type', 'unknown_field', 'duplicate_field', 'missing_field', 'invalid_type', 'invalid_format', 'out_of_range',
      'timestamp_in_future', 'too_late', 'conflict', 'too_many_regions',
    ]);
  });

  it('POST /v1/readings: refused requests (400, 401, 403, 413, 415)', async () => {
    expect((await post('{"device_id":')).json()).toMatchObject({ error: { code: 'invalid_json' } });
    expect((await post([])).json()).toMatchObject({ error: { code: 'empty_batch' } });
    expect((await post(`[${'{},'.repeat(10_000)}{}]`)).json()).toMatchObject({ error: { code: 'batch_too_large' } });
    expect((await post(`[${' '.repeat(1024 * 1024)}]`)).json()).toMatchObject({ error: { code: 'body_too_large' } });
    expect((await post(reading('d', 'eu-west', 1), gateway, { 'content-type': 'text/plain' })).json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    expect((await post(reading('d', 'eu-west', 1), gateway, { 'content-encoding': 'gzip' })).json()).toMatchObject({ error: { code: 'unsupported_encoding' } });
    expect((await call('POST', '/v1/readings', { headers: { 'content-type': 'application/json' }, body: '[]' })).status).toBe(401);
    expect((await post(reading('d', 'eu-west', 1), 'not-a-token')).status).toBe(401);
    expect((await post(reading('d', 'eu-west', 1), read)).status).toBe(403);
  });

  it('POST /v1/readings: a body over the limit with Expect: 100-continue (413), a stalled body (408)', async () => {
    const early = await raw({ expect: '100-continue', 'content-length': 2 * 1024 * 1024 }, (req) => req.flushHeaders());
    expectDocumented('POST', '/v1/readings', early);
    expect(early.status).toBe(413);
    const slow = await raw({ 'content-length': 1000 }, (req) => req.write('['));
    expectDocumented('POST', '/v1/readings', slow);
    expect(slow.status).toBe(408);
  });

  it('POST /v1/readings: a device token posts its own readings only, and at its rate (429)', async () => {
    const device = await node.token('device', 'dev-1');
    const res = await post([reading('dev-1', 'eu-west', 20), reading('sensor-9', 'eu-west', 20)], device);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 1, results: [{ status: 'accepted' }, { error: { code: 'device_mismatch' } }] });
    const limited = await post([reading('dev-1', 'eu-west', 20, now - 1), reading('dev-1', 'eu-west', 20, now - 2)], device);
    expect(limited.status).toBe(429);
  });

  it('GET /v1/regions: pages through every region', async () => {
    const names: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res = await call('GET', `/v1/regions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: read });
      const page = res.json() as { regions: Array<{ region: string }>; next_cursor: string | null };
      names.push(...page.regions.map((r) => r.region));
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    expect(names).toEqual(['eu-west', 'p1', 'p2', 'p3', 'p4']);
    expect((await call('GET', '/v1/regions', { token: read })).json()).toMatchObject({ next_cursor: null });
    expect((await call('GET', '/v1/regions?limit=0', { token: read })).json()).toMatchObject({ error: { code: 'invalid_query' } });
    expect((await call('GET', '/v1/regions?cursor=not-ours', { token: read })).json()).toMatchObject({ error: { code: 'invalid_cursor' } });
    expect((await call('GET', `/v1/regions?access_token=${read}`)).status).toBe(401);
    expect((await call('GET', '/v1/regions', { token: gateway })).status).toBe(403);
    // A stray Content-Encoding on a request without a body is harmless.
    expect((await call('GET', '/v1/regions', { token: read, headers: { 'content-encoding': 'gzip' } })).status).toBe(200);
  });

  it('GET /v1/devices: pages, silent sensors, errors', async () => {
    const first = (await call('GET', '/v1/devices?limit=1', { token: read })).json() as { devices: Array<{ device_id: string }>; next_cursor: string | null };
    expect(first.devices).toHaveLength(1);
    expect(first.next_cursor).not.toBeNull();
    expect((await call('GET', `/v1/devices?limit=1000&cursor=${encodeURIComponent(first.next_cursor!)}`, { token: read })).json()).toMatchObject({ next_cursor: null });
    expect((await call('GET', '/v1/devices?silent_for_ms=0&region=eu-west', { token: admin })).status).toBe(200);
    expect((await call('GET', '/v1/devices?silent_for_ms=soon', { token: read })).json()).toMatchObject({ error: { code: 'invalid_query' } });
    expect((await call('GET', '/v1/devices?cursor=not-ours', { token: read })).json()).toMatchObject({ error: { code: 'invalid_cursor' } });
    expect((await call('GET', '/v1/devices')).status).toBe(401);
    expect((await call('GET', '/v1/devices', { token: gateway })).status).toBe(403);
  });

  it('GET /v1/regions/{region}: all time, a range without readings, errors', async () => {
    expect((await call('GET', '/v1/regions/eu-west', { token: read })).json()).toMatchObject({ region: 'eu-west', count: 4 });
    expect((await call('GET', '/v1/regions/eu-west?from=0&to=60000', { token: read })).json()).toMatchObject({ count: 0, mean: null });
    // Any millisecond: rounded outward to whole minutes, and the answer says which range it covered.
    expect((await call('GET', '/v1/regions/eu-west?from=5&to=60001', { token: read })).json()).toMatchObject({ from: 0, to: 120_000, count: 0 });
    expect((await call('GET', '/v1/regions/eu-west?from=120000&to=60000', { token: read })).status).toBe(400);
    expect((await call('GET', '/v1/regions/nowhere', { token: read })).status).toBe(404);
    expect((await call('GET', '/v1/regions/eu-west')).status).toBe(401);
  });

  it('GET /v1/regions/{region}/series: with and without data, errors', async () => {
    const minutes = (await call('GET', '/v1/regions/eu-west/series?bucket=1m', { token: read })).json() as { buckets: unknown[] };
    expect(minutes.buckets.length).toBeGreaterThan(0);
    expect((await call('GET', '/v1/regions/eu-west/series?bucket=1h', { token: read })).status).toBe(200);
    expect((await call('GET', '/v1/regions/eu-west/series?bucket=1m&from=0&to=3600000', { token: read })).json()).toMatchObject({ buckets: [] });
    expect((await call('GET', '/v1/regions/eu-west/series', { token: read })).json()).toMatchObject({ error: { code: 'invalid_query' } });
    expect((await call('GET', `/v1/regions/eu-west/series?bucket=1m&from=0&to=${60_000 * 10_001}`, { token: read })).json()).toMatchObject({ error: { code: 'range_too_large' } });
    expect((await call('GET', '/v1/regions/nowhere/series?bucket=1m', { token: read })).status).toBe(404);
    expect((await call('GET', '/v1/regions/eu-west/series?bucket=1m', { token: gateway })).status).toBe(403);
  });

  it('GET /v1/stream: region events as documented; one stream past --max-streams is 503', async () => {
    const abort = new AbortController();
    const res = await node.fetch('/v1/stream', { token: read, signal: abort.signal });
    expectDocumented('GET', '/v1/stream', { status: res.status, headers: res.headers, body: '' });
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (parseEvents(text).length < 5 && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), sleep(1_000).then(() => undefined)]);
      if (chunk?.done) break;
      if (chunk) text += new TextDecoder().decode(chunk.value);
    }
    const events = parseEvents(text);
    expect(checker.checkEvents('GET', '/v1/stream', 200, 'text/event-stream', events)).toEqual([]);
    expect(events.map((e) => (JSON.parse(e.data) as { region: string }).region)).toEqual(['eu-west', 'p1', 'p2', 'p3', 'p4']);
    expect(checker.checkEvents('GET', '/v1/stream', 200, 'text/event-stream', [{ event: 'region', data: '{"region":"x"}' }])).not.toEqual([]);

    const busy = await call('GET', '/v1/stream', { token: read });
    expect(busy.status).toBe(503);
    abort.abort();
    await reader.cancel().catch(() => undefined);
    expect((await call('GET', '/v1/stream')).status).toBe(401);
    // Once the first stream is closed, a token in the query opens one.
    const again = await eventually(async () => {
      const r = await node.fetch(`/v1/stream?access_token=${read}`);
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    });
    expectDocumented('GET', '/v1/stream', { status: again.status, headers: again.headers, body: '' });
    await again.body?.cancel();
  });

  it("the node's own endpoints", async () => {
    expect((await call('GET', '/v1/node', { token: read })).json()).toMatchObject({ ready: true, counters: { rejected: { conflict: 1 } } });
    expect((await call('GET', '/v1/node', { token: 'x.y.z' })).status).toBe(401);
    expect((await call('GET', '/v1/fleet', { token: read })).json()).toMatchObject({ replication: 'off' });
    expect((await call('GET', '/v1/fleet', { token: gateway })).status).toBe(403);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(401);
    expect((await call('GET', '/metrics', { token: 'metrics-secret' })).body).toContain('# TYPE');
    expect((await call('GET', '/')).status).toBe(200);
  });

  it('unknown paths (404) and methods (405)', async () => {
    expect((await call('GET', '/nowhere')).status).toBe(404);
    expect((await call('GET', '/v1/regions/eu-west/other', { token: read })).status).toBe(404);
    expect((await call('GET', '/v1/readings', { token: read })).status).toBe(405);
    expect((await call('POST', '/v1/regions', { token: gateway })).status).toBe(405);
    expect((await call('DELETE', '/healthz')).status).toBe(405);
  });

  it('deployments: a canary of the aggregator promoted and rolled back, and refusals', async () => {
    expect((await call('GET', '/v1/deployments', { token: admin })).json()).toMatchObject({ apps: [{ app: 'aggregator', stable: { version: '0.1.0', traffic_percent: 100 }, canary: null }] });
    expect((await call('GET', '/v1/deployments', { token: read })).status).toBe(403);
    expect((await call('GET', '/v1/deployments')).status).toBe(401);
    const v2 = aggregatorVersion('0.2.0', 1);
    expect((await deploy(v2, {}, read)).status).toBe(403);
    expect(code(await postJson('/v1/deployments', '{"module_base64":'))).toBe('invalid_json');
    expect(code(await deploy(v2, { state: 'copy' } as unknown as DeployBody))).toBe('invalid_request');
    expect(code(await deploy(v2, { canary_percent: 0 }))).toBe('invalid_share');
    const tampered = new Uint8Array(v2.wasm);
    tampered[tampered.length - 1]! ^= 1;
    expect(code(await deploy({ ...v2, wasm: tampered }))).toBe('hash_mismatch');
    expect(code(await deploy({ ...v2, wasm: new Uint8Array(150_000) }))).toBe('module_too_large');
    expect(code(await deploy(v2, { fleet: true }))).toBe('no_fleet');

    expect((await deploy(v2, { canary_percent: 10 })).json()).toEqual({ app: 'aggregator', version: '0.2.0', state: 'building' });
    expect(['deployment_in_progress', 'canary_in_progress']).toContain(code(await deploy(aggregatorVersion('0.3.0', 2))));
    await until('aggregator', (v) => v.canary?.version === '0.2.0', 'canary 0.2.0 serving');
    expect(code(await deploy(aggregatorVersion('0.3.0', 2)))).toBe('canary_in_progress');
    expect((await call('GET', '/v1/node', { token: read })).json()).toMatchObject({ deployments: [{ app: 'aggregator', stable: '0.1.0', canary: '0.2.0', canary_percent: 10 }] });
    expect((await postJson('/v1/deployments/aggregator/promote', { percent: 50 })).json()).toMatchObject({ canary: { version: '0.2.0', traffic_percent: 50 } });
    expect(code(await postJson('/v1/deployments/aggregator/promote', { percent: 10 }))).toBe('share_decrease');
    expect(code(await postJson('/v1/deployments/aggregator/promote', { percent: 0 }))).toBe('invalid_share');
    expect(code(await postJson('/v1/deployments/nothing/promote', {}))).toBe('unknown_app');
    expect((await postJson('/v1/deployments/aggregator/rollback', { reason: 'testing' })).json()).toMatchObject({ canary: null, rolled_back: { version: '0.2.0', reason: 'testing' } });
    expect((await call('GET', '/v1/node', { token: read })).json()).toMatchObject({ deployments: [{ canary: null, rolled_back: { version: '0.2.0' } }] });
    expect(code(await postJson('/v1/deployments/aggregator/promote', ''))).toBe('no_canary');
    expect(code(await postJson('/v1/deployments/aggregator/rollback', {}))).toBe('nothing_to_roll_back');
    expect(code(await postJson('/v1/deployments/aggregator/rollback', { version: '9.9.9' }))).toBe('unknown_version');
    expect(code(await postJson('/v1/deployments/aggregator/rollback', { version: '0.1.0' }))).toBe('already_serving');
    expect(code(await postJson('/v1/deployments/aggregator/rollback', { version: 1 }))).toBe('invalid_request');
    expect(code(await deploy(aggregatorVersion('0.1.5', 0)))).toBe('release_rollback');
    expect(code(await deploy(signed(builtGuest('example'), 'aggregator', '0.2.0', { release: 1 })))).toBe('version_exists');

    // Again, promoted to stable this time; then back to 0.1.0 from the registry.
    expect((await deploy(v2, { canary_percent: 10 })).status).toBe(202);
    await until('aggregator', (v) => v.canary?.version === '0.2.0', 'canary 0.2.0 serving again');
    expect((await postJson('/v1/deployments/aggregator/promote', {})).json()).toMatchObject({ stable: { version: '0.2.0' }, canary: null });
    expect(code(await deploy(v2))).toBe('already_serving');
    const answer = await post(reading('sensor-1', 'eu-west', 20, now - 60_000));
    expect(answer.headers.get('x-edgeagg-version')).toBe('0.2.0');
    expect((await postJson('/v1/deployments/aggregator/rollback', { version: '0.1.0' })).json()).toMatchObject({ building: { version: '0.1.0', then: 'stable' } });
    await until('aggregator', (v) => v.stable?.version === '0.1.0' && v.building === null, '0.1.0 stable again');
  }, 120_000);

  it('apps: the example guest deployed as app `example` answers under /apps/example/', async () => {
    const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
    const example = signed(builtGuest('example'), 'example', '1.0.0', { capabilities: ALL });
    expect(code(await deploy(example))).toBe('capability_not_granted');
    expect((await deploy(example, { grants: ALL })).status).toBe(202);
    await until('example', (v) => v.stable?.version === '1.0.0', 'example 1.0.0 serving');
    const time = await call('GET', '/apps/example/time', { token: read });
    expect(time.json()).toMatchObject({ now_ms: expect.any(Number) });
    expect(time.headers.get('x-edgeagg-version')).toBe('1.0.0');
    expect((await call('PUT', '/apps/example/kv/colour', { token: gateway, body: 'blue' })).status).toBe(204);
    expect((await call('GET', '/apps/example/kv/colour', { token: read })).body).toBe('blue');
    expect((await call('POST', '/apps/example/events/p1?source=s&time=1', { token: gateway, body: '{}' })).json()).toEqual({ result: 'new' });
    expect((await call('DELETE', '/apps/example/kv/colour', { token: gateway })).json()).toEqual({ deleted: true });
    // The guest's own 404, and the node's.
    const gone = await call('GET', '/apps/example/kv/colour', { token: read });
    expect([gone.status, gone.headers.get('x-edgeagg-version')]).toEqual([404, '1.0.0']);
    for (const path of ['/apps/nothing/time', '/apps/aggregator/regions']) {
      const res = await call('GET', path, { token: read });
      expect([res.status, code(res), res.headers.get('x-edgeagg-version')]).toEqual([404, 'unknown_app', null]);
    }
    expect((await call('GET', '/apps/example/time', { token: gateway })).status).toBe(403);
    expect((await call('PUT', '/apps/example/kv/x', { body: 'x' })).status).toBe(401);
  }, 60_000);

  it('every documented operation and every item error code was seen', () => {
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([template, item]) =>
      HTTP_METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${template}`),
    );
    for (const op of operations) expect(covered.has(op), `${op} was not called`).toBe(true);
    expect([...itemCodes].sort()).toEqual([...ITEM_CODES].sort());
    expect(covered.get('POST /v1/readings')).toEqual(new Set([200, 400, 401, 403, 408, 413, 415, 422, 429]));
    expect(covered.get('GET /v1/deployments')).toEqual(new Set([200, 401, 403]));
    expect(covered.get('POST /v1/deployments')).toEqual(new Set([202, 400, 403, 409, 413, 422]));
    expect(covered.get('POST /v1/deployments/{app}/promote')).toEqual(new Set([200, 400, 404, 409]));
    expect(covered.get('POST /v1/deployments/{app}/rollback')).toEqual(new Set([200, 400, 404, 409]));
    expect(covered.get('GET /apps/{app}/{path}')).toEqual(new Set([200, 403, 404]));
    const unrouted = new Set([...covered].filter(([key]) => key.endsWith('(unrouted)')).flatMap(([, statuses]) => [...statuses].map(String)));
    expect([...unrouted].sort()).toEqual(Object.keys(resolvePointer(doc, `#/${UNROUTED}`) as object).sort());
  });
});
