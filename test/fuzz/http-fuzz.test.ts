/**
 * A bounded, seeded fuzzer over a real node: random bodies (JSON values, bytes, near-valid readings),
 * query strings and headers. No answer is ever 5xx, and a request answered 4xx changes nothing the
 * node holds.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { rawRequest } from './raw-request.js';

// Fixed for `npm test`; FUZZ_SEED / FUZZ_RUNS explore further by hand.
const SEED = Number(process.env.FUZZ_SEED ?? 16);
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

let node: NodeProcess;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  node = await NodeProcess.start({ flags: { 'body-limit': '65536' } });
  for (const scope of ['gateway', 'read', 'admin'] as const) tokens[scope] = await node.token(scope, `fuzz-${scope}`);
  tokens.device = await node.token('device', 'fuzz-dev-1');
  const seed = await node.postReadings({ device_id: 'fuzz-dev-1', region: 'fuzz-seed', temperature_c: 20, timestamp: Date.now() - 60_000 }, tokens.admin);
  expect(seed.status).toBe(200);
}, 30_000);

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

/** What the node holds: every region's aggregates and the seed region's series. */
async function snapshot(): Promise<string> {
  const parts = await Promise.all(
    ['/v1/regions?limit=1000', '/v1/regions/fuzz-seed', '/v1/regions/fuzz-seed/series?bucket=1h'].map(async (path) => {
      const res = await node.fetch(path, { token: tokens.admin });
      return `${res.status} ${await res.text()}`;
    }),
  );
  return parts.join('\n');
}

const ident = (chars: string, max: number) => fc.string({ unit: fc.constantFrom(...chars), minLength: 0, maxLength: max });
const NAME_CHARS = 'abcXYZ019._:-/ é\u0000';
const anyScalar = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null));

/** A reading with each field kept, dropped, or replaced by something of a wrong type or range. */
const nearReading = fc.record(
  {
    device_id: fc.oneof(fc.constantFrom('fuzz-dev-1', 'fuzz-dev-2'), ident(NAME_CHARS, 140), anyScalar),
    region: fc.oneof(fc.constantFrom('fuzz-seed', 'fuzz-b'), ident(NAME_CHARS, 70), anyScalar),
    temperature_c: fc.oneof(fc.double({ min: -300, max: 1100 }), anyScalar),
    timestamp: fc.oneof(fc.integer({ min: -120_000, max: 0 }).map((d) => Date.now() - 60_000 + d), fc.double(), anyScalar),
    extra: anyScalar,
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.json().map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
  nearReading.map((r) => Buffer.from(JSON.stringify(r))),
  fc.array(nearReading, { maxLength: 8 }).map((rs) => Buffer.from(JSON.stringify(rs))),
  fc.array(fc.oneof(nearReading.map((r) => JSON.stringify(r)), fc.string({ maxLength: 20 })), { maxLength: 8 }).map((lines) => Buffer.from(lines.join('\n'))),
);

const QUERY_CHARS = 'az09-_.~!*()+,;:@/?%&=';
const query = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom('limit', 'cursor', 'from', 'to', 'bucket', 'access_token'), ident(QUERY_CHARS, 6)), fc.oneof(ident(QUERY_CHARS, 20), fc.integer().map(String), fc.constant(''))),
  { maxLength: 4 },
).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const HEADER_NAME = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((n) => !['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade'].includes(n));
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const headers = fc.record(
  {
    'content-type': fc.oneof({ arbitrary: fc.constantFrom('application/json', 'application/x-ndjson'), weight: 6 }, fc.constantFrom('application/json', 'application/x-ndjson', 'application/json; charset=utf-8', 'text/plain', 'APPLICATION/JSON', ''), headerValue),
    'content-encoding': fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, fc.constantFrom('identity', 'gzip', 'br', 'deflate, identity'), headerValue),
    accept: headerValue,
  },
  { requiredKeys: ['content-type'] },
).chain((h) => fc.dictionary(HEADER_NAME, headerValue, { maxKeys: 3 }).map((extra) => ({ ...extra, ...h })));

const auth = fc.oneof(
  { arbitrary: fc.constantFrom('gateway', 'admin', 'read').map((name) => `Bearer ${tokens[name]}`), weight: 6 },
  fc.constantFrom('gateway', 'read', 'admin', 'device', 'none').map((name) => (name === 'none' ? undefined : `Bearer ${tokens[name]}`)),
  headerValue,
);

const path = fc.oneof(
  { arbitrary: fc.constant('/v1/readings'), weight: 6 },
  { arbitrary: fc.constantFrom('/v1/regions', '/v1/regions/fuzz-seed', '/v1/regions/fuzz-seed/series'), weight: 3 },
  fc.constantFrom('/v1/readings', '/v1/regions', '/v1/regions/fuzz-seed', '/v1/regions/fuzz-seed/series', '/v1/node', '/v1/fleet', '/healthz', '/readyz'),
  fc.array(ident('az09-_.%~', 10), { minLength: 1, maxLength: 4 }).map((segs) => `/v1/${segs.join('/')}`),
);

/** Mostly the two real endpoints with the right method, so most requests get past routing. */
const requestArb = fc.record({
  // 'natural': POST for /v1/readings, GET elsewhere.
  method: fc.oneof({ arbitrary: fc.constant('natural'), weight: 8 }, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD')),
  path,
  query,
  headers,
  auth,
  body,
});

describe('HTTP fuzzing against a real node', () => {
  it(`answers ${NUM_RUNS} random requests without a 5xx, and refused ones change nothing`, async () => {
    let before = await snapshot();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) h[k] = v;
        if (r.auth !== undefined) h.authorization = r.auth;
        const method = r.method === 'natural' ? (r.path === '/v1/readings' ? 'POST' : 'GET') : r.method;
        const { status, text } = await rawRequest(node.url, method, r.path + r.query, h, method === 'GET' || method === 'HEAD' ? new Uint8Array(0) : r.body);
        expect(status, text).toBeLessThan(500);
        const after = await snapshot();
        if (status >= 400) expect(after).toBe(before);
        before = after;
      }),
      { seed: SEED, numRuns: NUM_RUNS, endOnFailure: true },
    );
  }, 60_000);
});
