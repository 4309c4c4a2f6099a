/**
 * How the sensor client reads each kind of answer, against a scripted HTTP server: what it retries,
 * how long it waits (Retry-After in both of its forms), what it refuses, and what its hooks see.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestRefusedError, SensorClient, type Reading, type RetryableError } from '../../src/client/index.js';
import { rejectionOf } from '../helpers/errors.js';

interface Seen {
  at: number;
  authorization: string | undefined;
  body: string;
}

type Script = (n: number, req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** A server that answers the n-th request (from 0) as `script` says, and remembers what it was sent. */
async function scripted(script: Script): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ at: performance.now(), authorization: req.headers.authorization, body });
      script(seen.length - 1, req, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const ok = (count: number) => ({ accepted: count, duplicates: 0, rejected: 0, results: Array.from({ length: count }, () => ({ status: 'accepted' })) });
const FAST = { backoff: { initialMs: 1, maxMs: 5, multiplier: 2, jitter: 1 } };
const READING: Reading = { device_id: 's1', region: 'eu', temperature_c: 20, timestamp: 1_700_000_000_000 };

describe('SensorClient', () => {
  it('retries 503, 429, 408, a cut connection and a malformed answer with the same bytes, and its hooks see each attempt', async () => {
    const { url, seen } = await scripted((n, _req, res) => {
      if (n === 0) return json(res, 503, { error: { code: 'store_busy', message: 'busy' } }, { 'retry-after': '0' });
      if (n === 1) return json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } });
      if (n === 2) return json(res, 408, { error: { code: 'timeout', message: 'too slow' } });
      if (n === 3) return res.socket!.destroy();
      if (n === 4) return json(res, 200, { results: [] });
      json(res, 200, ok(1));
    });
    const attempts: number[] = [];
    const failures: string[] = [];
    const client = new SensorClient({ url, token: 'gw', retry: FAST });
    const result = await client.send([READING], {
      onAttempt: (a) => attempts.push(a),
      onFailure: (e: RetryableError) => failures.push(e.code),
    });
    expect(result.results).toEqual([{ status: 'accepted' }]);
    expect(attempts).toEqual([0, 1, 2, 3, 4, 5]);
    expect(failures).toEqual(['http_503', 'http_429', 'http_408', 'network', 'bad_answer']);
    expect(new Set(seen.map((s) => s.body))).toEqual(new Set([JSON.stringify([READING])]));
    expect(seen.every((s) => s.authorization === 'Bearer gw')).toBe(true);
  });

  it('waits out Retry-After given in seconds', async () => {
    const { url, seen } = await scripted((n, _req, res) => (n === 0 ? json(res, 503, {}, { 'retry-after': '1' }) : json(res, 200, ok(1))));
    await new SensorClient({ url, retry: FAST }).send([READING]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 5);
  });

  it('waits out Retry-After given as an HTTP date', async () => {
    // An HTTP date has whole seconds: two seconds ahead, truncated, is at least one second ahead.
    const { url, seen } = await scripted((n, _req, res) =>
      n === 0 ? json(res, 503, {}, { 'retry-after': new Date(Date.now() + 2_000).toUTCString() }) : json(res, 200, ok(1)),
    );
    await new SensorClient({ url, retry: FAST }).send([READING]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 5);
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(2_500);
  });

  it('waits no longer than maxRetryAfterMs, and not at all for an unreadable Retry-After', async () => {
    const { url, seen } = await scripted((n, _req, res) => {
      if (n === 0) return json(res, 503, {}, { 'retry-after': '3600' });
      if (n === 1) return json(res, 503, {}, { 'retry-after': 'later, maybe' });
      json(res, 200, ok(1));
    });
    const started = performance.now();
    await new SensorClient({ url, retry: FAST, maxRetryAfterMs: 50 }).send([READING]);
    expect(seen).toHaveLength(3);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('refuses at once what the node refuses as a whole, with its code, and sends no token it was not given', async () => {
    const { url, seen } = await scripted((n, _req, res) =>
      n === 0 ? json(res, 400, { error: { code: 'empty_batch', message: 'the batch holds no readings' } }) : (res.writeHead(404), res.end('no')),
    );
    const client = new SensorClient({ url, retry: FAST });
    await expect(client.send([])).rejects.toMatchObject({ name: 'RequestRefusedError', status: 400, code: 'empty_batch', message: 'the batch holds no readings' });
    const refused = await rejectionOf(client.send([READING]));
    expect(refused).toBeInstanceOf(RequestRefusedError);
    expect(refused).toMatchObject({ status: 404, code: 'http_404' });
    expect(seen).toHaveLength(2);
    expect(seen[0]!.authorization).toBeUndefined();
  });

  it('passes per-item results through, 422 included, and sends malformed items as they are', async () => {
    const answer = { accepted: 0, duplicates: 0, rejected: 1, results: [{ status: 'rejected', error: { code: 'unknown_field', message: 'humidity', field: 'humidity' } }] };
    const { url, seen } = await scripted((_n, _req, res) => json(res, 422, answer));
    const result = await new SensorClient({ url }).send([{ ...READING, humidity: 41 }]);
    expect(result).toEqual(answer);
    expect(JSON.parse(seen[0]!.body)).toEqual([{ ...READING, humidity: 41 }]);
  });

  it('abandons an attempt that takes longer than timeoutMs, and retries it', async () => {
    const { url } = await scripted((n, _req, res) => {
      if (n > 0) json(res, 200, ok(1));
      // The first request is never answered.
    });
    const failures: string[] = [];
    await new SensorClient({ url, retry: FAST, timeoutMs: 100 }).send([READING], { onFailure: (e) => failures.push(e.code) });
    expect(failures).toEqual(['timeout']);
  });

  it('ends its retries when the signal aborts, with the abort reason', async () => {
    const { url } = await scripted((_n, _req, res) => json(res, 503, {}, { 'retry-after': '30' }));
    const stop = new AbortController();
    const started = performance.now();
    const sending = new SensorClient({ url }).send([READING], { signal: stop.signal });
    setTimeout(() => stop.abort(new Error('run over')), 100);
    await expect(sending).rejects.toThrow('run over');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('sends through the fetch it was given', async () => {
    const { url } = await scripted((_n, _req, res) => json(res, 200, ok(1)));
    const calls: string[] = [];
    const client = new SensorClient({
      url,
      fetch: (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    await client.send([READING]);
    expect(calls).toEqual([`${url}/v1/readings`]);
  });
});
