/**
 * The aggregator guest (guests/aggregator) against the real Wasm runtime and an in-memory store: the
 * readings API, the fold, the queries, and the properties the product relies on (docs/api.md).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, type Capability, type GuestModule, type StoredEvent } from '../../src/runtime/index.js';
import { loadTestGuest } from '../helpers/guests.js';
import { expectAggregate, oracle, withinSketchBound, type Aggregate, type Reading } from './aggregator-oracle.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** The node's clock in these tests: 2025-01-15 12:30:15 UTC. */
const NOW = Date.UTC(2025, 0, 15, 12, 30, 15);

type Principal = { kind: 'anonymous' | 'device' | 'gateway' | 'read' | 'admin'; subject: string };

interface Result {
  status: 'accepted' | 'duplicate' | 'rejected';
  error?: { code: string; message: string; field?: string };
}
interface BatchBody {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: Result[];
}

class Node {
  constructor(
    readonly mod: GuestModule,
    readonly store: MemoryStore,
    readonly logs: string[],
    readonly metrics: Map<string, number>,
  ) {}

  /** POSTs readings (objects are sent as JSON) and folds the new events, as the node does. */
  post(body: unknown, contentType = 'application/json', principal: Principal = { kind: 'gateway', subject: '' }) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    const res = this.mod.invokeHttp({ method: 'POST', path: '/v1/readings', query: '', contentType, principal, body: bytes });
    this.mod.invokeEvents(res.newEvents);
    const text = Buffer.from(res.body).toString();
    return { status: res.status, contentType: res.contentType, text, json: JSON.parse(text) as BatchBody & { error?: { code: string; message: string } }, newEvents: res.newEvents };
  }

  get(pathAndQuery: string, method = 'GET') {
    const q = pathAndQuery.indexOf('?');
    const res = this.mod.invokeHttp({
      method,
      path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
      query: q < 0 ? '' : pathAndQuery.slice(q + 1),
      contentType: '',
      principal: { kind: 'read', subject: '' },
      body: new Uint8Array(0),
    });
    const text = Buffer.from(res.body).toString();
    return { status: res.status, contentType: res.contentType, text, json: JSON.parse(text) };
  }

  region(name: string, query = ''): Aggregate {
    const r = this.get(`/v1/regions/${name}${query ? `?${query}` : ''}`);
    expect(r.status, r.text).toBe(200);
    return r.json as Aggregate;
  }

  /** Every key and value of the module's namespace, as hex. */
  kvDump(): Array<[string, string]> {
    const keys = this.store.kvList(this.mod.namespace, new Uint8Array(0), undefined, 1e9);
    return keys.map((k) => [Buffer.from(k).toString('hex'), Buffer.from(this.store.kvGet(this.mod.namespace, k)!).toString('hex')]);
  }
}

async function node(
  options: { config?: Record<string, string>; now?: () => number; grants?: Capability[]; maxDeadlineMs?: number; limits?: { deadline_ms?: number } } = {},
): Promise<Node> {
  const store = new MemoryStore();
  const logs: string[] = [];
  const metrics = new Map<string, number>();
  const mod = await loadTestGuest('aggregator', {
    store,
    grants: options.grants ?? ALL,
    config: options.config ?? {},
    now: options.now ?? (() => NOW),
    ...(options.maxDeadlineMs !== undefined ? { maxDeadlineMs: options.maxDeadlineMs } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    onLog: (_m, level, message) => logs.push(`${level} ${message}`),
    onMetric: (_m, name, value) => metrics.set(name, (metrics.get(name) ?? 0) + value),
  });
  return new Node(mod, store, logs, metrics);
}

function reading(overrides: Partial<Reading> = {}): Reading {
  return { device_id: 'dev-1', region: 'lab', temperature_c: 21.5, timestamp: NOW - 1000, ...overrides };
}

/** An event payload as the host hands it out (a Buffer). */
function payload(temperature: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(temperature, 0);
  return b;
}

function event(r: Reading): StoredEvent {
  return { partition: r.region, source: r.device_id, timeMs: r.timestamp, payload: payload(r.temperature_c) };
}

describe('POST /v1/readings', () => {
  it('accepts one object or an array and answers one result per item', async () => {
    const n = await node();
    const one = n.post(reading());
    expect(one.status).toBe(200);
    expect(one.contentType).toBe('application/json');
    expect(one.json).toEqual({ accepted: 1, duplicates: 0, rejected: 0, results: [{ status: 'accepted' }] });
    const many = n.post([reading({ timestamp: NOW - 2000 }), reading({ timestamp: NOW - 3000, device_id: 'dev-2' })]);
    expect(many.json).toEqual({ accepted: 2, duplicates: 0, rejected: 0, results: [{ status: 'accepted' }, { status: 'accepted' }] });
    expect(n.region('lab')).toMatchObject({ count: 3, sum: 64.5, min: 21.5, max: 21.5 });
    expect(n.metrics.get('readings_accepted')).toBe(3);
  });

  it('stores an accepted reading as an event: partition region, source device, time, f64 LE payload', async () => {
    const n = await node();
    const res = n.post(reading({ temperature_c: -0.5 }));
    expect(res.newEvents).toEqual([{ partition: 'lab', source: 'dev-1', timeMs: NOW - 1000, payload: payload(-0.5) }]);
    // -0 is written as 0, so that 0 and -0 are the same reading.
    const zero = n.post('{"device_id":"z","region":"lab","temperature_c":-0,"timestamp":' + (NOW - 5) + '}');
    expect(zero.newEvents[0]!.payload).toEqual(payload(0));
    expect(n.post(reading({ device_id: 'z', temperature_c: 0, timestamp: NOW - 5 })).json.duplicates).toBe(1);
  });

  const base = reading();
  const raw = (s: string) => s; // items given as JSON text
  const cases: Array<[string, unknown, string, string | undefined]> = [
    ['not an object', 42, 'invalid_type', undefined],
    ['an array item', [base], 'invalid_type', undefined],
    ['null item', null, 'invalid_type', undefined],
    ['unknown field', { ...base, humidity: 40 }, 'unknown_field', 'humidity'],
    ['unknown field wins over a missing one', { device_id: 'a', extra: 1 }, 'unknown_field', 'extra'],
    ['the first unknown field is reported', { x: 1, ...base, y: 2 }, 'unknown_field', 'x'],
    ['duplicate field', raw('{"device_id":"a","region":"lab","temperature_c":1,"timestamp":' + (NOW - 1) + ',"region":"lab"}'), 'duplicate_field', 'region'],
    ['duplicate field wins over a bad type', raw('{"device_id":1,"device_id":2}'), 'duplicate_field', 'device_id'],
    ['missing device_id', { region: 'lab', temperature_c: 1, timestamp: NOW }, 'missing_field', 'device_id'],
    ['missing region', { device_id: 'a', temperature_c: 1, timestamp: NOW }, 'missing_field', 'region'],
    ['missing temperature_c', { device_id: 'a', region: 'lab', timestamp: NOW }, 'missing_field', 'temperature_c'],
    ['missing timestamp', { device_id: 'a', region: 'lab', temperature_c: 1 }, 'missing_field', 'timestamp'],
    ['empty object', {}, 'missing_field', 'device_id'],
    ['fields are checked in order', { device_id: 'a', region: 7 }, 'invalid_type', 'region'],
    ['device_id null', { ...base, device_id: null }, 'invalid_type', 'device_id'],
    ['device_id number', { ...base, device_id: 5 }, 'invalid_type', 'device_id'],
    ['region object', { ...base, region: {} }, 'invalid_type', 'region'],
    ['temperature as string', { ...base, temperature_c: '21.5' }, 'invalid_type', 'temperature_c'],
    ['temperature null', { ...base, temperature_c: null }, 'invalid_type', 'temperature_c'],
    ['timestamp as string', { ...base, timestamp: String(NOW) }, 'invalid_type', 'timestamp'],
    ['timestamp boolean', { ...base, timestamp: true }, 'invalid_type', 'timestamp'],
    ['device_id empty', { ...base, device_id: '' }, 'invalid_format', 'device_id'],
    ['device_id too long', { ...base, device_id: 'd'.repeat(129) }, 'invalid_format', 'device_id'],
    ['device_id with a space', { ...base, device_id: 'dev 1' }, 'invalid_format', 'device_id'],
    ['device_id with a slash', { ...base, device_id: 'a/b' }, 'invalid_format', 'device_id'],
    ['device_id not ASCII', { ...base, device_id: 'dév' }, 'invalid_format', 'device_id'],
    ['region with a colon', { ...base, region: 'eu:west' }, 'invalid_format', 'region'],
    ['region too long', { ...base, region: 'r'.repeat(65) }, 'invalid_format', 'region'],
    ['region empty', { ...base, region: '' }, 'invalid_format', 'region'],
    ['temperature below absolute zero', { ...base, temperature_c: -273.16 }, 'out_of_range', 'temperature_c'],
    ['temperature above 1000', { ...base, temperature_c: 1000.0001 }, 'out_of_range', 'temperature_c'],
    ['temperature 1e400', raw(`{"device_id":"a","region":"lab","temperature_c":1e400,"timestamp":${NOW}}`), 'out_of_range', 'temperature_c'],
    ['temperature -1e400', raw(`{"device_id":"a","region":"lab","temperature_c":-1e400,"timestamp":${NOW}}`), 'out_of_range', 'temperature_c'],
    ['timestamp with a fraction', { ...base, timestamp: NOW - 0.5 }, 'invalid_format', 'timestamp'],
    ['timestamp 1e400', raw(`{"device_id":"a","region":"lab","temperature_c":1,"timestamp":1e400}`), 'invalid_format', 'timestamp'],
    ['timestamp negative', { ...base, timestamp: -60000 }, 'out_of_range', 'timestamp'],
    ['timestamp above 2^53-1', raw(`{"device_id":"a","region":"lab","temperature_c":1,"timestamp":9007199254740992}`), 'out_of_range', 'timestamp'],
    ['timestamp in the future', { ...base, timestamp: NOW + 300_001 }, 'timestamp_in_future', 'timestamp'],
    ['timestamp too late', { ...base, timestamp: NOW - 7 * DAY - 1 }, 'too_late', 'timestamp'],
  ];

  it.each(cases)('rejects an item: %s', async (_name, item, code, field) => {
    const n = await node();
    const body = typeof item === 'string' ? `[${item}]` : JSON.stringify([item]);
    const res = n.post(body);
    expect(res.status, res.text).toBe(422);
    expect(res.json).toMatchObject({ accepted: 0, duplicates: 0, rejected: 1 });
    const error = res.json.results[0]!.error!;
    expect(res.json.results[0]!.status).toBe('rejected');
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
    if (field === undefined) expect('field' in error).toBe(false);
    expect(error.message.length).toBeGreaterThan(10);
    expect(n.metrics.get(`readings_rejected_${code}`)).toBe(1);
    expect(n.get('/v1/regions/lab').status).toBe(404);
  });

  it('accepts the edges of every rule', async () => {
    const n = await node();
    const edges: Reading[] = [
      reading({ device_id: 'A-z.0_9:x', temperature_c: -273.15, timestamp: NOW + 300_000 }),
      reading({ device_id: 'd'.repeat(128), region: 'R-1.b_c', temperature_c: 1000, timestamp: NOW - 7 * DAY }),
      reading({ region: 'r'.repeat(64), temperature_c: 0 }),
    ];
    const res = n.post(edges);
    expect(res.json, res.text).toMatchObject({ accepted: 3, rejected: 0 });
    // Integer values are judged on the parsed double.
    const t = NOW - 5000;
    const text = `[{"device_id":"e1","region":"lab","temperature_c":1.5e1,"timestamp":${t}.0},{"timestamp":${t / 1000}e3,"temperature_c":-2E-1,"region":"lab","device_id":"e2"}]`;
    expect(n.post(text).json).toMatchObject({ accepted: 2 });
    // Escapes in strings are decoded before the checks.
    expect(n.post(`{"device_id":"\\u0065\\u0033","region":"lab","temperature_c":1,"timestamp":${t}}`).json).toMatchObject({ accepted: 1 });
  });

  it('checks a device token against device_id', async () => {
    const n = await node();
    const device = { kind: 'device' as const, subject: 'dev-1' };
    const res = n.post([reading(), reading({ device_id: 'dev-2' })], 'application/json', device);
    expect(res.json.results.map((r) => r.error?.code ?? r.status)).toEqual(['accepted', 'device_mismatch']);
    expect(res.json.results[1]!.error!.field).toBe('device_id');
    // Other principals may send for any device.
    expect(n.post(reading({ device_id: 'dev-3' }), 'application/json', { kind: 'gateway', subject: 'gw' }).json.accepted).toBe(1);
  });

  it('refuses the whole request for its own errors, storing nothing', async () => {
    const n = await node();
    const expectError = (res: ReturnType<Node['post']>, status: number, code: string) => {
      expect(res.status, res.text).toBe(status);
      expect(res.json.error!.code).toBe(code);
      expect(res.json.error!.message.length).toBeGreaterThan(10);
      expect(res.newEvents).toEqual([]);
    };
    expectError(n.post([reading()], 'text/plain'), 415, 'unsupported_media_type');
    expectError(n.post([reading()], ''), 415, 'unsupported_media_type');
    expectError(n.post('[' + JSON.stringify(reading()) + ','), 400, 'invalid_json');
    expectError(n.post(JSON.stringify(reading()) + ' x'), 400, 'invalid_json');
    expectError(n.post(''), 400, 'invalid_json');
    expectError(n.post('{"device_id":"a","device_id":}'), 400, 'invalid_json');
    expectError(n.post([]), 400, 'empty_batch');
    expectError(n.post('\n  \r\n\t\n', 'application/x-ndjson'), 400, 'empty_batch');
    expectError(n.post(''.padEnd(10, ' '), 'application/x-ndjson'), 400, 'empty_batch');
    const tooMany = Array.from({ length: 10_001 }, (_, i) => reading({ timestamp: NOW - i }));
    expectError(n.post(tooMany), 413, 'batch_too_large');
    expectError(n.post(tooMany.map((r) => JSON.stringify(r)).join('\n'), 'application/x-ndjson'), 413, 'batch_too_large');
    expect(n.get('/v1/regions').json).toEqual({ regions: [], next_cursor: null });
    expect(n.metrics.get('batches_rejected_invalid_json')).toBe(4);
  });

  it('reads NDJSON: blank lines ignored, a bad line rejects only that item', async () => {
    const n = await node();
    const lines = [
      JSON.stringify(reading({ timestamp: NOW - 1 })),
      '',
      '   ',
      '{"device_id":"dev-1",',
      '[1,2]',
      JSON.stringify(reading({ timestamp: NOW - 2, temperature_c: 0.5 })) + '\r',
      JSON.stringify(reading({ timestamp: NOW - 3 })) + ' {}',
    ];
    const res = n.post(lines.join('\n') + '\n', 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect(res.json.results.map((r) => r.error?.code ?? r.status)).toEqual(['accepted', 'invalid_json', 'invalid_type', 'accepted', 'invalid_json']);
    expect(res.json.results[1]!.error!.message).toMatch(/line 4/);
    expect(n.region('lab')).toMatchObject({ count: 2, sum: 22 });
  });

  it('counts a retried reading once: duplicates within a batch and across calls', async () => {
    const n = await node();
    const r = reading();
    expect(n.post([r, r, r]).json).toMatchObject({ accepted: 1, duplicates: 2, rejected: 0 });
    expect(n.post([r]).json).toMatchObject({ accepted: 0, duplicates: 1 });
    // The same number written differently is the same reading.
    expect(n.post(`{"timestamp":${r.timestamp},"region":"lab","temperature_c":2.15e1,"device_id":"dev-1"}`).json.duplicates).toBe(1);
    expect(n.region('lab')).toMatchObject({ count: 1, sum: 21.5 });
    expect(n.metrics.get('readings_duplicate')).toBe(4);
  });

  it('refuses a conflicting reading: within a batch and across calls, the first one stays', async () => {
    const n = await node();
    const res = n.post([reading({ temperature_c: 10 }), reading({ temperature_c: 11 }), reading({ temperature_c: 10, region: 'other' })]);
    expect(res.json.results.map((r) => r.error?.code ?? r.status)).toEqual(['accepted', 'conflict', 'conflict']);
    expect(n.post(reading({ temperature_c: 12 })).json.results[0]!.error!.code).toBe('conflict');
    expect(n.region('lab')).toMatchObject({ count: 1, sum: 10 });
    expect(n.get('/v1/regions/other').status).toBe(404);
  });

  it('answers 422 only when every item is rejected', async () => {
    const n = await node();
    expect(n.post([reading(), { bad: 1 }]).status).toBe(200);
    expect(n.post([reading()]).status).toBe(200); // a duplicate is not a rejection
    expect(n.post([{ bad: 1 }, 7]).status).toBe(422);
  });

  it('aggregates out-of-order and late readings (within the grace period) like on-time ones', async () => {
    const inOrder = await node();
    const shuffled = await node();
    const readings = [0, 1, 2, 3, 4, 5].map((i) => reading({ device_id: `d${i % 2}`, timestamp: NOW - 6 * DAY + i * HOUR * 20, temperature_c: i * 1.25 - 2 }));
    for (const r of readings) inOrder.post(r);
    for (const r of [readings[5]!, readings[0]!, readings[3]!, readings[1]!, readings[4]!, readings[2]!]) shuffled.post(r);
    expectAggregate(inOrder.region('lab'), 'lab', readings);
    expect(shuffled.region('lab')).toEqual(inOrder.region('lab'));
    expect(shuffled.kvDump()).toEqual(inOrder.kvDump());
  });

  it('uses the configured grace period and future limit', async () => {
    const n = await node({ config: { grace_period_ms: String(HOUR), max_future_ms: '0' } });
    const res = n.post([reading({ timestamp: NOW - HOUR }), reading({ timestamp: NOW - HOUR - 1 }), reading({ timestamp: NOW }), reading({ timestamp: NOW + 1 })]);
    expect(res.json.results.map((r) => r.error?.code ?? r.status)).toEqual(['accepted', 'too_late', 'accepted', 'timestamp_in_future']);
    expect(res.json.results[1]!.error!.message).toContain('3600000');
  });

  it('answers a bad config value with a clear 500', async () => {
    const n = await node({ config: { grace_period_ms: '7 days' } });
    const res = n.post(reading());
    expect(res.status).toBe(500);
    expect(res.json.error!.code).toBe('invalid_config');
    expect(res.json.error!.message).toContain('grace_period_ms');
  });

});

describe('10,000-reading batches (about 1 MiB)', () => {
  const batch = (spreadMs: number) =>
    Array.from({ length: 10_000 }, (_, i) =>
      reading({ device_id: `sensor-${String(i % 500).padStart(4, '0')}`, region: `region-${i % 8}`, temperature_c: Math.round(Math.sin(i) * 3000) / 100, timestamp: NOW - spreadMs + Math.floor((i * spreadMs) / 10_000) }),
    );

  beforeAll(async () => {
    // A node runs warm: let the engine optimise the guest's code (compiled code is shared by every load
    // of the same module) before the calls that are measured against the deadline. Cold code may be slower.
    const n = await node({ maxDeadlineMs: 1000, limits: { deadline_ms: 1000 } });
    for (let k = 0; k < 3; k++) n.post(batch(20 * MINUTE).map((r) => ({ ...r, timestamp: r.timestamp - k * HOUR })));
  });

  it('handles a gateway batch (readings of the last 20 minutes) within the default 50 ms deadline', async () => {
    const n = await node();
    const readings = batch(20 * MINUTE);
    const body = JSON.stringify(readings);
    expect(body.length).toBeGreaterThan(900_000);
    const res = n.post(body); // ea_on_http and ea_on_events, each under the deadline
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: 10_000, duplicates: 0, rejected: 0 });
    expect(res.json.results).toHaveLength(10_000);
    const regions = n.get('/v1/regions').json.regions as Aggregate[];
    expect(regions.map((r) => r.region)).toEqual(Array.from({ length: 8 }, (_, i) => `region-${i}`));
    for (const agg of regions) expectAggregate(agg, agg.region, readings.filter((r) => r.region === agg.region));
    // The same batch again: all duplicates.
    expect(n.post(body).json).toMatchObject({ accepted: 0, duplicates: 10_000 });
    // As NDJSON: the same state.
    const m = await node();
    expect(m.post(readings.map((r) => JSON.stringify(r)).join('\n'), 'application/x-ndjson').json).toMatchObject({ accepted: 10_000 });
    expect(m.kvDump()).toEqual(n.kvDump());
  });

  it('handles a backlog (readings spread over 5 days: 10,000 distinct minute buckets)', async () => {
    // Folding this writes about 10,300 kv records; most of the call's time is the store's, not the guest's,
    // so it runs with a larger deadline than the default here.
    const n = await node({ maxDeadlineMs: 250, limits: { deadline_ms: 250 } });
    const readings = batch(5 * DAY);
    const res = n.post(readings);
    expect(res.json).toMatchObject({ accepted: 10_000, rejected: 0 });
    expect(n.kvDump().length).toBeGreaterThan(10_000);
    const regions = n.get('/v1/regions').json.regions as Aggregate[];
    for (const agg of regions) expectAggregate(agg, agg.region, readings.filter((r) => r.region === agg.region));
  });
});

describe('GET /v1/regions', () => {
  it('lists every region sorted by name with its all-time aggregate', async () => {
    const n = await node();
    const readings = [
      reading({ region: 'b', temperature_c: 1 }),
      reading({ region: 'a', temperature_c: 2, device_id: 'x' }),
      reading({ region: 'B', temperature_c: 3, device_id: 'y' }),
      reading({ region: 'a-1', temperature_c: 4, device_id: 'z' }),
    ];
    n.post(readings);
    const res = n.get('/v1/regions');
    expect(res.status).toBe(200);
    const regions = res.json.regions as Aggregate[];
    expect(regions.map((r) => r.region)).toEqual(['B', 'a', 'a-1', 'b']);
    for (const r of regions) expectAggregate(r, r.region, readings.filter((x) => x.region === r.region));
    expect(n.get('/v1/regions', 'HEAD').status).toBe(200);
  });

  it('writes exactly the documented fields', async () => {
    const n = await node();
    n.post([reading({ temperature_c: 21.25, timestamp: NOW - 3000 }), reading({ temperature_c: 21.5, timestamp: NOW - 2000 }), reading({ temperature_c: 22, timestamp: NOW - 1000, device_id: 'sensor-17' })]);
    const r = n.region('lab');
    expect(Object.keys(r)).toEqual(['region', 'count', 'sum', 'mean', 'min', 'max', 'last', 'p50', 'p90', 'p99']);
    expect(r).toMatchObject({ region: 'lab', count: 3, sum: 64.75, mean: 64.75 / 3, min: 21.25, max: 22, last: { device_id: 'sensor-17', temperature_c: 22, timestamp: NOW - 1000 } });
  });
});

describe('GET /v1/regions/{region}', () => {
  // Readings spread over three hours, at minute boundaries and in between.
  const start = Math.floor(NOW / HOUR) * HOUR - 3 * HOUR;
  const spread: Reading[] = [];
  for (let i = 0; i < 200; i++) {
    spread.push(reading({ device_id: `d${i % 7}`, timestamp: start + i * 61_123, temperature_c: ((i * 37) % 101) / 4 - 5 }));
  }

  it('answers over all time, or over [from, to) rounded outward to whole minutes, and says which range', async () => {
    const n = await node();
    n.post(spread);
    expectAggregate(n.region('lab'), 'lab', spread);
    const ranges: Array<[number | undefined, number | undefined]> = [
      [start, start + HOUR],
      [start + 7 * MINUTE, start + 2 * HOUR + 13 * MINUTE],
      [start + 59 * MINUTE, start + 61 * MINUTE],
      [start + 17 * MINUTE, undefined],
      [undefined, start + 100 * MINUTE],
      [0, start + 10 * HOUR],
      [start + 30 * MINUTE, start + 30 * MINUTE],
      [start - DAY, start],
      [start + 4 * HOUR, start + 5 * HOUR],
    ];
    for (const [from, to] of ranges) {
      const q = [from !== undefined ? `from=${from}` : '', to !== undefined ? `to=${to}` : ''].filter(Boolean).join('&');
      const inRange = spread.filter((r) => (from === undefined || r.timestamp >= from) && (to === undefined || r.timestamp < to));
      const got = n.region('lab', q) as Aggregate & { from: number | null; to: number | null };
      expectAggregate(got, 'lab', inRange);
      expect([got.from, got.to]).toEqual([from ?? null, to ?? null]);
    }
    // Any millisecond is accepted: from rounds down, to rounds up, to whole minutes (as Prometheus and
    // InfluxDB users expect), and the answer says which range it covered.
    const odd = n.region('lab', `from=${start + 7 * MINUTE + 1}&to=${start + 2 * HOUR + 13 * MINUTE - 1}`) as Aggregate & { from: number; to: number };
    expect([odd.from, odd.to]).toEqual([start + 7 * MINUTE, start + 2 * HOUR + 13 * MINUTE]);
    expectAggregate(odd, 'lab', spread.filter((r) => r.timestamp >= start + 7 * MINUTE && r.timestamp < start + 2 * HOUR + 13 * MINUTE));
  });

  it('refuses bad ranges with invalid_query', async () => {
    const n = await node();
    n.post(spread);
    for (const q of ['from=abc', 'from=', 'to=-60000', 'from=120000&to=60000', 'from=60001&to=60000', 'from=60000&from=60000', 'to=1e6', 'from=99999999999999999999']) {
      const res = n.get(`/v1/regions/lab?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code).toBe('invalid_query');
      expect(res.json.error.message.length).toBeGreaterThan(10);
    }
    // Unknown parameters are ignored.
    expect(n.get('/v1/regions/lab?foo=bar').status).toBe(200);
  });

  it('answers 404 for an unknown region and count 0 for an empty range of a known one', async () => {
    const n = await node();
    n.post(reading());
    const res = n.get('/v1/regions/nowhere');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
    expect(n.get('/v1/regions/bad%20name').status).toBe(404);
    const before = Math.floor(NOW / MINUTE) * MINUTE - DAY;
    expect(n.region('lab', `to=${before}`)).toEqual({
      region: 'lab', from: null, to: before, count: 0, sum: 0, mean: null, min: null, max: null, last: null, p50: null, p90: null, p99: null,
    });
  });
});

describe('GET /v1/regions/{region}/series', () => {
  const start = Math.floor(NOW / HOUR) * HOUR - 2 * HOUR;
  const readings: Reading[] = [];
  for (let i = 0; i < 150; i++) readings.push(reading({ device_id: `d${i % 3}`, timestamp: start + i * 53_000, temperature_c: (i % 17) - 3.5 }));

  function expectSeries(n: Node, query: string, size: number, from: number, to: number) {
    const res = n.get(`/v1/regions/lab/series?${query}`);
    expect(res.status, res.text).toBe(200);
    const want: Array<Record<string, number>> = [];
    for (let b = from; b < to; b += size) {
      const o = oracle('lab', readings.filter((r) => r.timestamp >= b && r.timestamp < b + size));
      if (o.count > 0) want.push({ start: b, count: o.count, sum: o.sum, mean: o.mean!, min: o.min!, max: o.max! });
    }
    expect(res.json).toEqual({ region: 'lab', bucket: size === MINUTE ? '1m' : '1h', from, to, buckets: want });
  }

  it('lists the non-empty buckets of [from, to), ascending', async () => {
    const n = await node();
    n.post(readings);
    expectSeries(n, `bucket=1m&from=${start}&to=${start + 3 * HOUR}`, MINUTE, start, start + 3 * HOUR);
    expectSeries(n, `bucket=1m&from=${start + 10 * MINUTE}&to=${start + 11 * MINUTE}`, MINUTE, start + 10 * MINUTE, start + 11 * MINUTE);
    expectSeries(n, `bucket=1h&from=${start - HOUR}&to=${start + 4 * HOUR}`, HOUR, start - HOUR, start + 4 * HOUR);
    // Bounds off the bucket grid round outward to whole buckets.
    expectSeries(n, `bucket=1m&from=${start + 10 * MINUTE + 59_999}&to=${start + 20 * MINUTE + 1}`, MINUTE, start + 10 * MINUTE, start + 21 * MINUTE);
    expectSeries(n, `bucket=1h&from=${start + MINUTE}&to=${start + HOUR + 1}`, HOUR, start, start + 2 * HOUR);
  });

  it('defaults to the last 60 minutes or 24 hours up to the end of the current bucket', async () => {
    const n = await node();
    n.post(readings);
    const toMinute = (Math.floor(NOW / MINUTE) + 1) * MINUTE;
    expectSeries(n, 'bucket=1m', MINUTE, toMinute - 60 * MINUTE, toMinute);
    const toHour = (Math.floor(NOW / HOUR) + 1) * HOUR;
    expectSeries(n, 'bucket=1h', HOUR, toHour - 24 * HOUR, toHour);
    expectSeries(n, `bucket=1m&to=${start + HOUR}`, MINUTE, start, start + HOUR);
    expectSeries(n, `bucket=1m&from=${start + HOUR}`, MINUTE, start + HOUR, toMinute);
  });

  it('refuses a missing or bad bucket, bad bounds and ranges over 10,000 buckets', async () => {
    const n = await node();
    n.post(readings);
    for (const q of ['', 'bucket=5m', 'bucket=1m&bucket=1h', `bucket=1h&from=x`, `bucket=1m&to=-1`, `bucket=1m&from=${start + MINUTE}&to=${start}`]) {
      const res = n.get(`/v1/regions/lab/series?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code).toBe('invalid_query');
    }
    const big = n.get(`/v1/regions/lab/series?bucket=1m&from=${start - 10_001 * MINUTE}&to=${start}`);
    expect(big.status).toBe(400);
    expect(big.json.error.code).toBe('range_too_large');
    expect(n.get(`/v1/regions/lab/series?bucket=1m&from=${start - 10_000 * MINUTE}&to=${start}`).status).toBe(200);
    expect(n.get('/v1/regions/elsewhere/series?bucket=1m').status).toBe(404);
  });
});

describe('routes', () => {
  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    const n = await node();
    for (const path of ['/', '/v1', '/v1/reading', '/v1/regions/lab/other', '/v1/regions/lab/series/x', '/v2/regions']) {
      const res = n.get(path);
      expect(res.status, path).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    }
    for (const [method, path] of [['GET', '/v1/readings'], ['PUT', '/v1/readings'], ['POST', '/v1/regions'], ['DELETE', '/v1/regions/lab'], ['POST', '/v1/regions/lab/series']]) {
      const res = n.get(path!, method);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.json.error.code).toBe('method_not_allowed');
    }
  });

  it('answers with a clear 500 when a capability is not granted', async () => {
    const n = await node({ grants: ['log', 'metrics'] });
    const res = n.post(reading());
    expect(res.status).toBe(500);
    expect(res.json.error!.code).toBe('capability_denied');
    expect(n.get('/v1/regions').json.error.code).toBe('capability_denied');
  });
});

describe('ea_on_events', () => {
  it('skips events that cannot be readings, counting them', async () => {
    const n = await node();
    const good = event(reading());
    n.mod.invokeEvents([
      good,
      { ...good, source: 'x', payload: new Uint8Array(4) },
      { ...good, source: 'y', payload: payload(Number.NaN) },
      { ...good, source: 'z', payload: payload(2000) },
      { ...good, partition: 'bad region', source: 'w' },
    ]);
    expect(n.region('lab')).toMatchObject({ count: 1 });
    expect(n.metrics.get('events_skipped')).toBe(4);
    expect(n.metrics.get('events_folded')).toBe(1);
  });

  it('keeps the documented key layout: time first in bucket keys', async () => {
    const n = await node();
    const t = Date.UTC(2025, 0, 15, 10, 7, 30);
    n.mod.invokeEvents([event(reading({ timestamp: t, region: 'eu' }))]);
    const keys = n.kvDump().map(([k]) => k);
    const u32 = (v: number) => v.toString(16).padStart(8, '0');
    const hex = (s: string) => Buffer.from(s).toString('hex');
    expect(keys.sort()).toEqual([
      hex('h') + u32(Math.floor(t / HOUR)) + hex('eu'),
      hex('m') + u32(Math.floor(t / MINUTE)) + hex('eu'),
      hex('t') + hex('eu'),
    ].sort());
  });
});

// ---- Properties ------------------------------------------------------------------------------------------

const temperature = fc.oneof(
  fc.integer({ min: -4000, max: 6000 }).map((n) => n / 100),
  fc.double({ min: -273.15, max: 1000, noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -0.002, max: 0.002, noNaN: true }),
  fc.constantFrom(0, 0.001, -0.001, 0.0005, -0.0005, 1000, -273.15, 5e-7, -5e-7, 1.5e-6, 21.4999995),
).map((t) => (Object.is(t, -0) ? 0 : t));

/** Distinct readings (unique (device, timestamp)) in a few regions over the grace period. */
const distinctReadings = fc
  .uniqueArray(
    fc.record({
      device: fc.integer({ min: 0, max: 6 }),
      // Clustered within a few hours, or anywhere in the grace period.
      offset: fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: 0, max: 7 * DAY - 1 })),
      region: fc.constantFrom('north', 'south', 'east'),
      temperature_c: temperature,
    }),
    { minLength: 1, maxLength: 80, selector: (r) => `${r.device}:${r.offset}` },
  )
  .map((rs) =>
    rs.map((r): Reading => ({ device_id: `dev-${r.device}`, region: r.region, temperature_c: r.temperature_c, timestamp: NOW - 7 * DAY + 1 + r.offset })),
  );

/** Splits `items` into batches at the given cut points. */
function split<T>(items: T[], cuts: number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let prev = 0;
  for (const p of [...points, items.length]) {
    if (p > prev) out.push(items.slice(prev, p));
    prev = Math.max(prev, p);
  }
  return out;
}

function permute<T>(items: T[], keys: number[]): T[] {
  return items
    .map((x, i) => ({ x, k: (keys[i % Math.max(1, keys.length)] ?? 0) * 1000 + i }))
    .sort((a, b) => a.k - b.k)
    .map((e) => e.x);
}

describe('properties', () => {
  it('(a) aggregates equal a direct computation from the distinct readings, whatever the duplicates, order and batching', async () => {
    await fc.assert(
      fc.asyncProperty(
        distinctReadings,
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.tuple(fc.nat(), fc.nat()),
        async (readings, duplicatePicks, orderKeys, cuts, [a, b]) => {
          const n = await node();
          const sent = [...readings, ...duplicatePicks.map((i) => readings[i % readings.length]!)];
          let accepted = 0;
          for (const batch of split(permute(sent, orderKeys), cuts)) {
            const res = n.post(batch);
            expect(res.json.rejected, res.text).toBe(0);
            accepted += res.json.accepted;
          }
          expect(accepted).toBe(readings.length);
          const regions = n.get('/v1/regions').json.regions as Aggregate[];
          expect(regions.map((r) => r.region)).toEqual([...new Set(readings.map((r) => r.region))].sort());
          for (const agg of regions) expectAggregate(agg, agg.region, readings.filter((r) => r.region === agg.region));
          // And over a random whole-minute range.
          const lo = NOW - 7 * DAY + (a % (7 * 24 * 60)) * MINUTE;
          const from = Math.floor(lo / MINUTE) * MINUTE;
          const to = from + (b % (3 * 24 * 60)) * MINUTE;
          const region = readings[0]!.region;
          const inRange = readings.filter((r) => r.region === region && r.timestamp >= from && r.timestamp < to);
          expectAggregate(n.region(region, `from=${from}&to=${to}`), region, inRange);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('(b) the kv state after folding is byte-identical for any order and batching of the same events', async () => {
    await fc.assert(
      fc.asyncProperty(
        distinctReadings,
        fc.array(fc.nat(), { maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (readings, orderKeys, cuts) => {
          const events = readings.map(event);
          const one = await node();
          one.mod.invokeEvents(events);
          const other = await node();
          for (const batch of split(permute(events, orderKeys), cuts)) other.mod.invokeEvents(batch);
          expect(other.kvDump()).toEqual(one.kvDump());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('quantiles stay within the stated bound for any values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(temperature, { minLength: 1, maxLength: 300 }), async (temps) => {
        const n = await node();
        const readings = temps.map((t, i) => reading({ timestamp: NOW - 1 - i, temperature_c: t }));
        n.mod.invokeEvents(readings.map(event));
        const got = n.region('lab');
        const sorted = [...temps].sort((x, y) => x - y);
        for (const [q, key] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']] as const) {
          const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
          expect(withinSketchBound(got[key]!, exact), `${key}: ${got[key]} vs ${exact}`).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});
