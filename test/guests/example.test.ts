/**
 * The example guest (guests/example): a key-value notes service on the SDK, run by the real runtime.
 */
import { describe, expect, it } from 'vitest';
import { GuestCallError, MemoryStore, StoreUnavailableError, type Capability, type GuestStore } from '../../src/runtime/index.js';
import { builtGuest, loadTestGuest } from '../helpers/guests.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const NOW = Date.UTC(2025, 0, 15, 12, 30, 15);

async function example(options: { store?: GuestStore; grants?: Capability[]; config?: Record<string, string> } = {}) {
  const logs: Array<[number, string]> = [];
  const metrics = new Map<string, number>();
  const mod = await loadTestGuest('example', {
    store: options.store ?? new MemoryStore(),
    grants: options.grants ?? ALL,
    config: options.config ?? { greeting: 'hello', 'with space': 'yes' },
    now: () => NOW,
    onLog: (_m, level, message) => logs.push([level, message]),
    onMetric: (_m, name, value) => metrics.set(name, (metrics.get(name) ?? 0) + value),
  });
  const call = (method: string, pathAndQuery: string, body: string | Uint8Array = '') => {
    const q = pathAndQuery.indexOf('?');
    const res = mod.invokeHttp({
      method,
      path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
      query: q < 0 ? '' : pathAndQuery.slice(q + 1),
      contentType: 'application/octet-stream',
      principal: { kind: 'admin', subject: 'tester' },
      body: typeof body === 'string' ? Buffer.from(body) : body,
    });
    const text = Buffer.from(res.body).toString();
    let json: unknown;
    if (res.contentType === 'application/json') json = JSON.parse(text);
    return { ...res, text, json: json as Record<string, unknown> & { error?: { code: string; message: string } } };
  };
  return { mod, call, logs, metrics };
}

describe('example guest', () => {
  it('stores, reads and deletes notes', async () => {
    const { call } = await example();
    expect(call('GET', '/kv/greeting').status).toBe(404);
    expect(call('GET', '/kv/greeting').json.error!.code).toBe('not_found');
    const put = call('PUT', '/kv/greeting', 'hello, world');
    expect(put.status).toBe(204);
    expect(put.body.length).toBe(0);
    const got = call('GET', '/kv/greeting');
    expect(got.status).toBe(200);
    expect(got.contentType).toBe('application/octet-stream');
    expect(got.text).toBe('hello, world');
    // Binary values and percent-encoded keys.
    const bytes = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
    expect(call('PUT', '/kv/a%2Fb%20c', bytes).status).toBe(204);
    expect(Buffer.from(call('GET', '/kv/a%2Fb%20c').body)).toEqual(Buffer.from(bytes));
    expect(call('DELETE', '/kv/greeting').json).toEqual({ deleted: true });
    expect(call('DELETE', '/kv/greeting').json).toEqual({ deleted: false });
    expect(call('GET', '/kv/greeting').status).toBe(404);
  });

  it('lists keys by prefix, in byte order, with paging', async () => {
    const { call } = await example();
    for (const k of ['b', 'a2', 'a1', 'c', 'a3']) call('PUT', `/kv/${k}`, k);
    expect(call('GET', '/kv').json).toEqual({ keys: ['a1', 'a2', 'a3', 'b', 'c'], next: null });
    expect(call('GET', '/kv?prefix=a').json).toEqual({ keys: ['a1', 'a2', 'a3'], next: null });
    expect(call('GET', '/kv?limit=2').json).toEqual({ keys: ['a1', 'a2'], next: 'a2' });
    expect(call('GET', '/kv?limit=2&after=a2').json).toEqual({ keys: ['a3', 'b'], next: 'b' });
    expect(call('GET', '/kv?limit=0').status).toBe(400);
    // More keys than one kv_list page holds.
    for (let i = 0; i < 300; i++) call('PUT', `/kv/many-${String(i).padStart(3, '0')}-${'x'.repeat(40)}`, 'v');
    const all = call('GET', '/kv?prefix=many-&limit=1000').json as { keys: string[] };
    expect(all.keys).toHaveLength(300);
    expect(all.keys).toEqual([...all.keys].sort());
  });

  it('reads the clock and config', async () => {
    const { call } = await example();
    expect(call('GET', '/time').json).toEqual({ now_ms: NOW });
    expect(call('GET', '/config/greeting').json).toEqual({ key: 'greeting', value: 'hello' });
    expect(call('GET', '/config/with%20space').json).toEqual({ key: 'with space', value: 'yes' });
    expect(call('GET', '/config/missing').status).toBe(404);
  });

  it('appends events and counts them in ea_on_events', async () => {
    const store = new MemoryStore();
    const { mod, call, metrics } = await example({ store });
    const first = call('POST', `/events/p1?source=s1&time=${NOW}`, 'payload');
    expect(first.json).toEqual({ result: 'new' });
    expect(first.newEvents).toEqual([{ partition: 'p1', source: 's1', timeMs: NOW, payload: Buffer.from('payload') }]);
    expect(call('POST', `/events/p1?source=s1&time=${NOW}`, 'payload').json).toEqual({ result: 'duplicate' });
    expect(call('POST', `/events/p1?source=s1&time=${NOW}`, 'other').json).toEqual({ result: 'conflict' });
    expect(call('POST', '/events/p1?source=s1').status).toBe(400);
    expect(call('POST', '/events/p1?source=s1&time=1.5').status).toBe(400);
    mod.invokeEvents(first.newEvents);
    mod.invokeEvents([first.newEvents[0]!, { ...first.newEvents[0]!, source: 's2' }]);
    expect(call('GET', '/events/count').json).toEqual({ count: 3 });
    expect(metrics.get('events_counted')).toBe(3);
  });

  it('logs every request and counts it', async () => {
    const { call, logs, metrics } = await example();
    call('GET', '/time');
    call('GET', '/nowhere');
    expect(logs).toContainEqual([1, 'GET /time -> 200']);
    expect(logs).toContainEqual([1, 'GET /nowhere -> 404']);
    expect(metrics.get('requests')).toBe(2);
  });

  it('answers unknown routes and methods with JSON errors', async () => {
    const { call } = await example();
    expect(call('GET', '/').json.error!.code).toBe('not_found');
    expect(call('POST', '/kv/a').status).toBe(405);
    expect(call('POST', '/time').status).toBe(405);
    expect(call('GET', '/events/p').status).toBe(405);
    expect(call('GET', '/kv/').status).toBe(400);
  });

  it('turns host errors into JSON errors: DENIED 403, TOO_LARGE 413, INVALID 400', async () => {
    const denied = await example({ grants: ['log', 'metrics'] });
    for (const [method, path] of [['GET', '/kv/a'], ['PUT', '/kv/a'], ['DELETE', '/kv/a'], ['GET', '/kv'], ['GET', '/time'], ['GET', '/config/greeting'], ['POST', '/events/p?source=s&time=1'], ['GET', '/events/count']]) {
      const res = denied.call(method!, path!, 'x');
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error!.code).toBe('denied');
    }
    const { call } = await example();
    expect(call('PUT', `/kv/${'k'.repeat(600)}`, 'x').status).toBe(413);
    expect(call('PUT', '/kv/big', new Uint8Array(1024 * 1024 + 1)).status).toBe(413);
    expect(call('POST', `/events/p?source=s&time=${2 ** 53}`, 'x').status).toBe(400);
    expect(call('POST', `/events/${'p'.repeat(65)}?source=s&time=1`, 'x').status).toBe(413);
  });

  it('fails the call when the store is unavailable (the host answers 503 and keeps nothing)', async () => {
    let failing = false;
    const inner = new MemoryStore();
    const store: GuestStore = {
      atomically: (fn) => inner.atomically(fn),
      kvGet: (ns, k) => {
        if (failing) throw new StoreUnavailableError('disk full', 'disk_full');
        return inner.kvGet(ns, k);
      },
      kvPut: (ns, k, v) => {
        if (failing) throw new StoreUnavailableError('disk full', 'disk_full');
        inner.kvPut(ns, k, v);
      },
      kvDelete: (ns, k) => inner.kvDelete(ns, k),
      kvList: (ns, p, a, l) => inner.kvList(ns, p, a, l),
      appendEvent: (s, e) => inner.appendEvent(s, e),
    };
    const { call, mod } = await example({ store });
    call('PUT', '/kv/a', 'kept');
    failing = true;
    expect(() => call('GET', '/kv/a')).toThrow(GuestCallError);
    try {
      call('PUT', '/kv/a', 'lost');
    } catch (e) {
      expect((e as GuestCallError).code).toBe('store_unavailable');
    }
    expect(() => mod.invokeEvents([{ partition: 'p', source: 's', timeMs: 1, payload: new Uint8Array(1) }])).toThrow(GuestCallError);
    failing = false;
    expect(call('GET', '/kv/a').text).toBe('kept');
  });

  it('is small: at most 16 KiB', () => {
    expect(builtGuest('example').length).toBeLessThanOrEqual(16 * 1024);
  });
});
