/**
 * Structured logs of a real node at debug level: JSON lines with level, time, message and request id,
 * and no token or secret anywhere in them after requests that carry tokens in every place a client
 * can put one (header, query, path, a wrong scheme, a token signed by an unknown key, the metrics token).
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/auth/tokens.js';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep } from '../helpers/poll.js';

const METRICS_TOKEN = 'metrics-Secret-0f9e8d7c6b5a';
const BASIC = Buffer.from('operator:hunter2-pass').toString('base64');

let node: NodeProcess;
let secrets: string[];
let lines: Array<Record<string, unknown>>;

async function request(path: string, init: RequestInit & { token?: string } = {}): Promise<number> {
  const res = await node.fetch(path, init);
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  node = await NodeProcess.start({ flags: { 'log-level': 'debug', 'log-format': 'json' }, env: { EDGEAGG_METRICS_TOKEN: METRICS_TOKEN } });
  // Subjects of their own: EdDSA is deterministic, and the first-start banner prints (on stdout, by
  // design) the node's own gateway and read tokens, which would otherwise be these very strings.
  const [gateway, reader] = await Promise.all([node.token('gateway', 'log-test-gateway'), node.token('read', 'log-test-reader')]);
  const { privateKey } = generateKeyPairSync('ed25519');
  const foreign = await new SignJWT({ scope: 'gateway' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('x').setExpirationTime('1h').sign(privateKey);
  secrets = [gateway, reader, foreign, METRICS_TOKEN, BASIC, 'hunter2-pass'];

  const reading = { device_id: 'log-1', region: 'eu-west', temperature_c: 21, timestamp: Date.now() - 60_000 };
  expect(await request('/v1/readings', { method: 'POST', token: gateway, headers: { 'content-type': 'application/json' }, body: JSON.stringify(reading) })).toBe(200);
  expect(await request('/v1/regions/eu-west', { token: reader })).toBe(200);
  // Refused off the stream (issue 16), and still logged without its query.
  expect(await request(`/v1/regions/eu-west?access_token=${reader}`)).toBe(401);
  expect(await request('/v1/readings', { method: 'POST', token: foreign, headers: { 'content-type': 'application/json' }, body: '{}' })).toBe(401);
  expect(await request('/v1/readings', { method: 'POST', headers: { authorization: `Basic ${BASIC}`, 'content-type': 'application/json' }, body: '{}' })).toBe(401);
  // A token pasted into the path by mistake.
  expect(await request(`/v1/regions/${gateway}`, { token: reader })).toBe(404);
  expect(await request(`/nowhere/${reader}`)).toBe(404);
  expect(await request('/metrics', { token: METRICS_TOKEN })).toBe(200);
  expect(await request('/metrics', { token: `${METRICS_TOKEN}x` })).toBe(401);
  // The stream, with its token in the query as browsers send it: opened, then dropped by the client.
  const abort = new AbortController();
  const stream = await fetch(`${node.url}/v1/stream?access_token=${reader}`, { signal: abort.signal });
  expect(stream.status).toBe(200);
  await stream.body!.getReader().read();
  abort.abort();
  await sleep(200);
  expect(await node.stop()).toBe(0);
  lines = node.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
});

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

describe('logs', () => {
  it('are JSON lines with a level, an ISO time and a message', () => {
    expect(lines.length).toBeGreaterThan(10);
    for (const l of lines) {
      expect(['debug', 'info', 'warn', 'error']).toContain(l.level);
      expect(new Date(l.time as string).toISOString()).toBe(l.time);
      expect(l.msg).toEqual(expect.any(String));
    }
  });

  it('have a line per request (at debug) with its request id, method, route template, status and duration', () => {
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(10);
    for (const r of requests) expect(r.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(new Set(requests.map((r) => r.request_id)).size).toBe(requests.length);
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', route: '/v1/readings', status: 200, duration_ms: expect.any(Number) }));
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', route: '/v1/readings', status: 401 }));
    expect(requests).toContainEqual(expect.objectContaining({ route: '/v1/stream', status: 200, aborted: true }));
  });

  it('never hold a token or a secret, wherever the client put it', () => {
    const all = node.stderr + node.stdout;
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      // Nor a recognisable part of one: a JWT's signature.
      const signature = secret.split('.')[2];
      if (signature) expect(all).not.toContain(signature);
    }
    // The token pasted into a path was logged, masked.
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', path: '/v1/regions/[REDACTED]', status: 404 }));
    expect(lines.filter((l) => typeof l.path === 'string' && (l.path as string).includes('access_token'))).toEqual([]);
  });
});
