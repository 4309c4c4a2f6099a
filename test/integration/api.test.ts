/**
 * The HTTP API over real HTTP against a real node process with a real SQLite file (docs/api.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, readNodeKey } from '../../src/auth/tokens.js';
import type { Reading } from '../../src/client/index.js';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep } from '../helpers/poll.js';

const MINUTE = 60_000;
let node: NodeProcess;
let gateway: string;
let reader: string;
let admin: string;
const now = Date.now();
const base = Math.floor(now / MINUTE) * MINUTE - 10 * MINUTE;

function reading(device: string, region: string, temperature: number, timestamp: number): Reading {
  return { device_id: device, region, temperature_c: temperature, timestamp };
}

async function post(body: unknown, token = gateway, contentType = 'application/json'): Promise<Response> {
  return node.fetch('/v1/readings', {
    method: 'POST',
    token,
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function region(name: string, query = ''): Promise<Record<string, unknown>> {
  const res = await node.fetch(`/v1/regions/${name}${query}`, { token: reader });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  node = await NodeProcess.start();
  [gateway, reader, admin] = await Promise.all([node.token('gateway'), node.token('read'), node.token('admin')]);
});

afterAll(async () => {
  await node?.stop();
  if (node) rmSync(node.dataDir, { recursive: true, force: true });
});

describe('first start', () => {
  it('prints the address and ready-to-use tokens', () => {
    expect(node.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(node.stdout).toContain('edgeagg token create');
    expect(node.stdout).toMatch(/sensors \(gateway, any device\): eyJ/);
  });

  it('health and readiness need no token', async () => {
    expect((await node.fetch('/healthz')).status).toBe(200);
    const ready = await node.fetch('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, module: expect.stringMatching(/^aggregator@/) });
  });
});

describe('POST /v1/readings', () => {
  it('accepts one object, counts it, and reads it back', async () => {
    const res = await post(reading('dev-1', 'single', 21.5, base));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: 0, results: [{ status: 'accepted' }] });
    const r = await region('single');
    expect(r).toMatchObject({ region: 'single', count: 1, sum: 21.5, mean: 21.5, min: 21.5, max: 21.5 });
    expect(r.last).toEqual({ device_id: 'dev-1', temperature_c: 21.5, timestamp: base });
  });

  it('a batch keeps valid items and rejects the others, one result per item in order', async () => {
    const items = [
      reading('mix-1', 'mixed', 20, base),
      { ...reading('mix-2', 'mixed', 20, base), extra: 1 },
      reading('mix-3', 'mixed', 2000, base),
      reading('mix-4', 'mixed', 22, base + 1000),
    ];
    const res = await post(items);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accepted: number; rejected: number; results: Array<{ status: string; error?: { code: string; field?: string } }> };
    expect(body.accepted).toBe(2);
    expect(body.rejected).toBe(2);
    expect(body.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'rejected', 'accepted']);
    expect(body.results[1]!.error).toMatchObject({ code: 'unknown_field', field: 'extra' });
    expect(body.results[2]!.error).toMatchObject({ code: 'out_of_range', field: 'temperature_c' });
    expect(await region('mixed')).toMatchObject({ count: 2, sum: 42, min: 20, max: 22 });
  });

  it('answers 422 when every item is rejected, and stores nothing', async () => {
    const res = await post([{ device_id: 'x' }, 42]);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { rejected: number; results: Array<{ error: { code: string } }> };
    expect(body.rejected).toBe(2);
    expect(body.results[0]!.error.code).toBe('missing_field');
    expect(body.results[1]!.error.code).toBe('invalid_type');
  });

  it('accepts NDJSON', async () => {
    const lines = [reading('nd-1', 'ndjson', 10, base), reading('nd-2', 'ndjson', 12, base)].map((r) => JSON.stringify(r)).join('\n');
    const res = await post(`${lines}\n`, gateway, 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2 });
    expect(await region('ndjson')).toMatchObject({ count: 2, mean: 11 });
  });

  it('counts a retried reading once and reports it as a duplicate', async () => {
    const r = reading('retry-1', 'retries', 18.25, base);
    expect(await (await post(r)).json()).toMatchObject({ accepted: 1 });
    expect(await (await post([r, r])).json()).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await region('retries')).toMatchObject({ count: 1, sum: 18.25 });
  });

  it('keeps the first value on a conflict', async () => {
    await post(reading('conf-1', 'conflicts', 10, base));
    const res = await post(reading('conf-1', 'conflicts', 11, base));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { results: Array<{ error: { code: string } }> }).results[0]!.error.code).toBe('conflict');
    expect(await region('conflicts')).toMatchObject({ count: 1, sum: 10 });
  });

  it('counts out-of-order and late readings (inside the grace period) like on-time ones', async () => {
    const late = now - 3 * 24 * 3600 * 1000;
    await post([reading('ooo', 'order', 3, base + 2000), reading('ooo', 'order', 1, base), reading('ooo', 'order', 2, base + 1000)]);
    await post(reading('ooo', 'order', 4, late));
    const r = await region('order');
    expect(r).toMatchObject({ count: 4, sum: 10, min: 1, max: 4 });
    expect(r.last).toMatchObject({ timestamp: base + 2000, temperature_c: 3 });
  });

  it('refuses too_late and timestamp_in_future with their codes', async () => {
    const res = await post([reading('t', 'time', 1, now - 8 * 24 * 3600 * 1000), reading('t', 'time', 1, now + 10 * MINUTE)]);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { results: Array<{ error: { code: string } }> };
    expect(body.results.map((r) => r.error.code)).toEqual(['too_late', 'timestamp_in_future']);
  });

  it('takes a 10,000-item batch', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => reading(`bulk-${i % 100}`, 'bulk', (i % 50) - 10, base + Math.floor(i / 100)));
    const res = await post(items);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 10_000, rejected: 0 });
    expect(await region('bulk')).toMatchObject({ count: 10_000, min: -10, max: 39 });
  });

  it('413 batch_too_large past 10,000 items, nothing stored', async () => {
    const items = Array.from({ length: 10_001 }, (_, i) => reading(`big-${i}`, 'too-big', 1, base));
    const res = await post(items);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('batch_too_large');
    expect((await node.fetch('/v1/regions/too-big', { token: reader })).status).toBe(404);
  });

  it('413 body_too_large, counted as bytes arrive', async () => {
    const huge = `[${' '.repeat(1024 * 1024 + 10)}]`;
    const res = await post(huge);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  });

  it('413 body_too_large for a chunked body without Content-Length', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await node.fetch('/v1/readings', {
      method: 'POST',
      token: gateway,
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    expect(res.status).toBe(413);
  });

  it('400 invalid_json', async () => {
    const res = await post('[{"device_id": ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('415 unsupported_media_type', async () => {
    const res = await post(JSON.stringify(reading('a', 'b', 1, base)), gateway, 'text/plain');
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });
});

describe('authentication', () => {
  const send = (token?: string) => node.postReadings(reading('auth-dev', 'auth', 1, base), token);

  it('401 without a token', async () => {
    const res = await send();
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('401 for alg none', async () => {
    const unsecured = new UnsecuredJWT({ scope: 'gateway' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('gw').setExpirationTime('1h').encode();
    expect((await send(unsecured)).status).toBe(401);
  });

  it('401 for a token signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new SignJWT({ scope: 'gateway' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('gw').setExpirationTime('1h').sign(privateKey);
    expect((await send(forged)).status).toBe(401);
  });

  it('401 for an expired token', async () => {
    const expired = await node.token('gateway', undefined, 1);
    await sleep(1100);
    const res = await send(expired);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('expired');
  });

  it('401 for a token without exp, with the wrong audience or issuer, or without a scope', async () => {
    const key = readNodeKey(node.dataDir).privateKey;
    const build = () => new SignJWT({ scope: 'gateway' }).setProtectedHeader({ alg: 'EdDSA' }).setSubject('gw');
    const noExp = await build().setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).sign(key);
    const wrongAud = await build().setIssuer(TOKEN_ISSUER).setAudience('someone-else').setExpirationTime('1h').sign(key);
    const wrongIss = await build().setIssuer('someone-else').setAudience(TOKEN_AUDIENCE).setExpirationTime('1h').sign(key);
    const noScope = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject('gw').setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime('1h').sign(key);
    for (const token of [noExp, wrongAud, wrongIss, noScope, 'not-a-jwt']) expect((await send(token)).status).toBe(401);
    // The same key and claims with all of them present is accepted: the refusals above are for the claims.
    const good = await build().setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime('1h').sign(key);
    expect((await send(good)).status).toBe(200);
  });

  it('403 for a read token on the write path, and a gateway token on the read path', async () => {
    expect((await send(reader)).status).toBe(403);
    const res = await node.fetch('/v1/regions', { token: gateway });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });

  it('a device token may post only for its own device: device_mismatch', async () => {
    const device = await node.token('device', 'dev-own');
    const res = await post([reading('dev-own', 'devices', 1, base), reading('dev-other', 'devices', 1, base)], device);
    expect(res.status).toBe(200);
    const out = (await res.json()) as { results: Array<{ status: string; error?: { code: string } }> };
    expect(out.results[0]!.status).toBe('accepted');
    expect(out.results[1]!.error!.code).toBe('device_mismatch');
  });

  it('an admin token may read and write', async () => {
    expect((await post(reading('adm', 'admin', 1, base), admin)).status).toBe(200);
    expect((await node.fetch('/v1/regions', { token: admin })).status).toBe(200);
  });
});

describe('reads', () => {
  it('GET /v1/regions lists regions sorted', async () => {
    const res = await node.fetch('/v1/regions', { token: reader });
    const body = (await res.json()) as { regions: Array<{ region: string }> };
    const names = body.regions.map((r) => r.region);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('single');
  });

  it('404 not_found for an unknown region', async () => {
    const res = await node.fetch('/v1/regions/nowhere', { token: reader });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('ranges and series', async () => {
    await post([reading('s1', 'series', 10, base), reading('s1', 'series', 20, base + MINUTE), reading('s1', 'series', 30, base + 2 * MINUTE)]);
    expect(await region('series', `?from=${base + MINUTE}&to=${base + 3 * MINUTE}`)).toMatchObject({ count: 2, sum: 50 });
    const res = await node.fetch(`/v1/regions/series/series?bucket=1m&from=${base}&to=${base + 3 * MINUTE}`, { token: reader });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { buckets: Array<{ start: number; count: number; mean: number }> };
    expect(body.buckets.map((b) => [b.start, b.count, b.mean])).toEqual([
      [base, 1, 10],
      [base + MINUTE, 1, 20],
      [base + 2 * MINUTE, 1, 30],
    ]);
  });

  it('the stream sends a region event when aggregates change', async () => {
    const controller = new AbortController();
    const res = await fetch(`${node.url}/v1/stream?access_token=${reader}`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader2 = res.body!.getReader();
    let text = '';
    await post(reading('live-1', 'live', 25, base));
    const deadline = Date.now() + 5000;
    while (!text.includes('"region":"live"') && Date.now() < deadline) {
      const { value, done } = await reader2.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain('event: region');
    expect(text).toContain('"region":"live"');
  });
});

describe('restart', () => {
  it('keeps every reading across a restart of the process', async () => {
    const before = await region('bulk');
    await node.stop();
    node = await NodeProcess.start({ dataDir: node.dataDir });
    const after = await region('bulk');
    expect(after).toEqual(before);
  });
});
