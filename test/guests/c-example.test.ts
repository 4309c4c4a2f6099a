/**
 * The C example guest (guests/c-example, on guests/c/ea_guest.h): hit counters, run by the real runtime.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore, type Capability } from '../../src/runtime/index.js';
import { loadTestGuest } from '../helpers/guests.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const NOW = Date.UTC(2025, 0, 15, 12, 30, 15);

async function cExample(grants: Capability[] = ALL) {
  const logs: Array<[number, string]> = [];
  const metrics = new Map<string, number>();
  const mod = await loadTestGuest('c-example', {
    store: new MemoryStore(),
    grants,
    config: { greeting: 'hello "world"' },
    now: () => NOW,
    onLog: (_m, level, message) => logs.push([level, message]),
    onMetric: (_m, name, value) => metrics.set(name, (metrics.get(name) ?? 0) + value),
  });
  const call = (method: string, pathAndQuery: string, body = '') => {
    const q = pathAndQuery.indexOf('?');
    const res = mod.invokeHttp({
      method,
      path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
      query: q < 0 ? '' : pathAndQuery.slice(q + 1),
      contentType: 'application/octet-stream',
      principal: { kind: 'admin', subject: 'tester' },
      body: Buffer.from(body),
    });
    return { status: res.status, contentType: res.contentType, json: JSON.parse(Buffer.from(res.body).toString()) as Record<string, unknown>, newEvents: res.newEvents };
  };
  return { mod, call, logs, metrics };
}

describe('c-example guest', () => {
  it('counts hits per key (percent-decoded, escaped in JSON)', async () => {
    const { call } = await cExample();
    expect(call('GET', '/hits/a%22b').json).toEqual({ key: 'a"b', hits: 0 });
    expect(call('POST', '/hits/a%22b').json).toEqual({ key: 'a"b', hits: 1 });
    expect(call('POST', '/hits/a%22b').json).toEqual({ key: 'a"b', hits: 2 });
    expect(call('GET', '/hits/%FF').json).toEqual({ key: '\ufffd', hits: 0 });
    expect(call('GET', '/hits/').status).toBe(400);
    expect(call('DELETE', '/hits/x').status).toBe(405);
  });

  it('reads the clock and the config', async () => {
    const { call } = await cExample();
    expect(call('GET', '/time').json).toEqual({ now_ms: NOW });
    expect(call('GET', '/config/greeting').json).toEqual({ key: 'greeting', value: 'hello "world"' });
    expect(call('GET', '/config/unset')).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
  });

  it('appends events and counts the ones it folds', async () => {
    const { mod, call } = await cExample();
    const first = call('POST', '/events/lab?source=dev-1&time=1000', 'x');
    expect(first.json).toEqual({ result: 'new' });
    mod.invokeEvents(first.newEvents);
    expect(call('POST', '/events/lab?source=dev-1&time=1000', 'x').json).toEqual({ result: 'duplicate' });
    expect(call('POST', '/events/lab?source=dev-1&time=1000', 'y').json).toEqual({ result: 'conflict' });
    expect(call('POST', '/events/lab?source=dev-1').status).toBe(400);
    expect(call('GET', '/events/count').json).toEqual({ count: 1 });
  });

  it('turns host errors into JSON errors, and logs and counts every request', async () => {
    const { call, logs, metrics } = await cExample(['log', 'metrics']);
    expect(call('POST', '/hits/a')).toMatchObject({ status: 403, json: { error: { code: 'denied' } } });
    expect(call('GET', '/time')).toMatchObject({ status: 403, json: { error: { code: 'denied' } } });
    expect(call('GET', '/nowhere').status).toBe(404);
    expect(logs).toEqual([
      [1, 'POST /hits/a -> 403'],
      [1, 'GET /time -> 403'],
      [1, 'GET /nowhere -> 404'],
    ]);
    expect(metrics.get('requests')).toBe(3);
  });
});
