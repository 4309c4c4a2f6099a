/**
 * The article's example in Rust (guests/rust-region-stats) against the AssemblyScript aggregator
 * (guests/aggregator): for the same readings, sent with retries, in different orders and batches, the two
 * agree on every region's count, sum, mean, min and max, and both equal the exact computation. In process
 * through the real runtime, and deployed as the node's app over HTTP (`edgeagg serve --module`).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, type Capability, type GuestModule } from '../../src/runtime/index.js';
import { ROOT, loadTestGuest } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { oracle, type Reading } from './aggregator-oracle.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const NOW = Date.UTC(2025, 0, 15, 12, 30, 15);
const DAY = 86_400_000;
const REGIONS = ['lab', 'north', 'eu-west.2', 'r_4'];
/** What the two must agree on, per region. */
type Stats = Record<'count' | 'sum' | 'mean' | 'min' | 'max', number | null> & { region: string };

/** One guest on its own store, called as the node calls it: the write, then the fold of its new events. */
class App {
  logs: string[] = [];
  private constructor(readonly mod: GuestModule) {}

  static async load(name: string): Promise<App> {
    let app: App | undefined = undefined;
    const mod = await loadTestGuest(name, {
      store: new MemoryStore(),
      grants: ALL,
      now: () => NOW,
      onLog: (_m, level, message) => app?.logs.push(`${level} ${message}`),
    });
    app = new App(mod);
    return app;
  }

  post(body: unknown): { status: number; json: { accepted: number; duplicates: number; rejected: number; results: Array<{ status: string; error?: { code: string; field?: string } }> } } {
    const res = this.mod.invokeHttp({
      method: 'POST',
      path: '/v1/readings',
      query: '',
      contentType: 'application/json',
      principal: { kind: 'gateway', subject: '' },
      body: Buffer.from(JSON.stringify(body)),
    });
    this.mod.invokeEvents(res.newEvents);
    return { status: res.status, json: JSON.parse(Buffer.from(res.body).toString()) };
  }

  get(path: string): { status: number; json: unknown } {
    const res = this.mod.invokeHttp({ method: 'GET', path, query: '', contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) });
    return { status: res.status, json: JSON.parse(Buffer.from(res.body).toString()) };
  }

  /** count, sum, mean, min and max of every region, from GET /v1/regions. */
  regions(): Stats[] {
    const res = this.get('/v1/regions');
    expect(res.status).toBe(200);
    return (res.json as { regions: Stats[] }).regions.map((r) => pick(r));
  }
}

/** A batch's answer without the messages (the Rust guest words them as the aggregator does, but the contract is the codes). */
function verdicts(res: ReturnType<App['post']>) {
  const { accepted, duplicates, rejected, results } = res.json;
  return { status: res.status, accepted, duplicates, rejected, results: results.map((r) => [r.status, r.error?.code, r.error?.field]) };
}

function pick(r: Stats): Stats {
  return { region: r.region, count: r.count, sum: r.sum, mean: r.mean, min: r.min, max: r.max };
}

const temperature = fc.oneof(
  fc.integer({ min: -2731, max: 10_000 }).map((n) => n / 10),
  fc.double({ min: -273.15, max: 1000, noNaN: true }),
);

const readingsArb = fc.uniqueArray(
  fc.record({
    device_id: fc.constantFrom('dev-1', 'dev-2', 'dev-3', 'sensor:a.b'),
    region: fc.constantFrom(...REGIONS),
    temperature_c: temperature.map((t) => (Object.is(t, -0) ? 0 : t)),
    // Anywhere in the grace period, and up to the allowed 5 minutes ahead: older readings arrive late.
    timestamp: fc.integer({ min: NOW - 7 * DAY, max: NOW + 300_000 }),
  }),
  { minLength: 1, maxLength: 80, selector: (r) => `${r.device_id}|${r.timestamp}` },
);

/** A delivery plan: every reading, some of them again (retries), in a shuffled order and batches. */
const deliveryArb = (n: number) =>
  fc.record({
    retries: fc.array(fc.nat(n - 1), { maxLength: 30 }),
    order: fc.array(fc.nat(), { minLength: n + 30, maxLength: n + 30 }),
    batch: fc.integer({ min: 1, max: 25 }),
    single: fc.boolean(),
  });

function deliver(app: App, readings: Reading[], plan: { retries: number[]; order: number[]; batch: number; single: boolean }): number {
  const sent = [...readings, ...plan.retries.map((i) => readings[i]!)];
  // Fisher-Yates with the plan's numbers.
  for (let i = sent.length - 1; i > 0; i--) {
    const j = plan.order[i]! % (i + 1);
    [sent[i], sent[j]] = [sent[j]!, sent[i]!];
  }
  let accepted = 0;
  for (let i = 0; i < sent.length; i += plan.batch) {
    const batch = sent.slice(i, i + plan.batch);
    const res = plan.single && batch.length === 1 ? app.post(batch[0]) : app.post(batch);
    expect(res.status).toBe(200);
    expect(res.json.rejected).toBe(0);
    accepted += res.json.accepted;
  }
  return accepted;
}

/** What both guests must answer for `readings`, computed exactly (test/guests/aggregator-oracle.ts). */
function expected(readings: Reading[]): Stats[] {
  return REGIONS.filter((r) => readings.some((x) => x.region === r))
    .sort()
    .map((region) => pick(oracle(region, readings.filter((x) => x.region === region)) as Stats));
}

describe('rust-region-stats agrees with the AssemblyScript aggregator', () => {
  it('on count, sum, mean, min and max for random readings, retries, orders and batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        readingsArb.chain((readings) => fc.tuple(fc.constant(readings), deliveryArb(readings.length), deliveryArb(readings.length))),
        async ([readings, asPlan, rustPlan]) => {
          const [as, rust] = await Promise.all([App.load('aggregator'), App.load('rust-region-stats')]);
          expect(deliver(as, readings, asPlan)).toBe(readings.length);
          expect(deliver(rust, readings, rustPlan)).toBe(readings.length);
          const want = expected(readings);
          expect(as.regions()).toEqual(want);
          expect(rust.regions()).toEqual(want);
          for (const s of want) expect(pick(rust.get(`/v1/regions/${s.region}`).json as Stats)).toEqual(s);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers every item of a batch as the aggregator does, rejections included', async () => {
    const [as, rust] = await Promise.all([App.load('aggregator'), App.load('rust-region-stats')]);
    const ok = { device_id: 'dev-1', region: 'lab', temperature_c: 21.5, timestamp: NOW - 1000 };
    const batch = [
      ok,
      ok,
      { ...ok, temperature_c: 22 },
      { ...ok, timestamp: NOW - 8 * DAY },
      { ...ok, timestamp: NOW + 300_001 },
      { ...ok, region: 'a/b' },
      { ...ok, temperature_c: -274 },
      { ...ok, timestamp: NOW - 0.5 },
      { device_id: 'dev-1', region: 'lab', temperature_c: 1 },
      { ...ok, humidity: 40 },
      [ok],
      { ...ok, device_id: 7 },
    ];
    expect(verdicts(rust.post(batch))).toEqual(verdicts(as.post(batch)));
    expect(verdicts(rust.post({ ...ok, timestamp: NOW - 2000 }))).toEqual(verdicts(as.post({ ...ok, timestamp: NOW - 2000 })));
    expect(rust.regions()).toEqual(as.regions());
    for (const body of ['', '[]', '[1,', '{"a":1}x', 'null']) {
      const send = (app: App) =>
        app.mod.invokeHttp({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(body) });
      const [a, r] = [send(as), send(rust)];
      expect([r.status, JSON.parse(Buffer.from(r.body).toString()).error?.code]).toEqual([a.status, JSON.parse(Buffer.from(a.body).toString()).error?.code]);
    }
  });

  it('dedups through the event log: a reading older than the device\'s last one still counts (the article\'s rule would drop it)', async () => {
    const rust = await App.load('rust-region-stats');
    rust.post({ device_id: 'dev-1', region: 'lab', temperature_c: 20, timestamp: NOW - 1000 });
    const late = rust.post({ device_id: 'dev-1', region: 'lab', temperature_c: 10, timestamp: NOW - 60_000 });
    expect(late.json.accepted).toBe(1);
    expect(rust.post({ device_id: 'dev-1', region: 'lab', temperature_c: 10, timestamp: NOW - 60_000 }).json.duplicates).toBe(1);
    expect(rust.get('/v1/regions/lab').json).toEqual({ region: 'lab', count: 2, sum: 30, mean: 15, min: 10, max: 20 });
    expect(rust.get('/v1/regions/nowhere').status).toBe(404);
  });
});

describe('rust-region-stats deployed as the node\'s app (edgeagg serve --module)', () => {
  let asNode: NodeProcess;
  let rustNode: NodeProcess;
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

  beforeAll(async () => {
    [asNode, rustNode] = await Promise.all([
      NodeProcess.start(),
      NodeProcess.start({ flags: { module: `${ROOT}build/guests/rust-region-stats.wasm` } }),
    ]);
  });

  afterAll(async () => {
    for (const node of [asNode, rustNode]) {
      await node?.stop();
      node?.cleanup();
    }
  });

  let run = 0;

  it('agrees over HTTP for random readings sent with retries, in different orders', async () => {
    const [asGateway, rustGateway, asReader, rustReader] = await Promise.all([
      asNode.token('gateway'),
      rustNode.token('gateway'),
      asNode.token('read'),
      rustNode.token('read'),
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ device: fc.integer({ min: 0, max: 5 }), offset: fc.integer({ min: 0, max: 20 * 60_000 }), temperature_c: temperature }), {
          minLength: 1,
          maxLength: 40,
          selector: (r) => `${r.device}:${r.offset}`,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 15 }),
        async (distinct, retries, batchSize) => {
          const region = `app-${run++}`;
          const readings = distinct.map((r) => ({ device_id: `${region}-${r.device}`, region, temperature_c: Object.is(r.temperature_c, -0) ? 0 : r.temperature_c, timestamp: base + r.offset }));
          const sent = [...readings, ...retries.map((i) => readings[i % readings.length]!)];
          const send = async (node: NodeProcess, token: string, items: typeof sent) => {
            for (let i = 0; i < items.length; i += batchSize) expect((await node.postReadings(items.slice(i, i + batchSize), token)).status).toBe(200);
          };
          await Promise.all([send(asNode, asGateway, sent), send(rustNode, rustGateway, [...sent].reverse())]);
          const [a, r] = await Promise.all([
            asNode.fetch(`/v1/regions/${region}`, { token: asReader }).then((res) => res.json() as Promise<Stats>),
            rustNode.fetch(`/v1/regions/${region}`, { token: rustReader }).then((res) => res.json() as Promise<Stats>),
          ]);
          expect(pick(r)).toEqual(pick(a));
          expect(pick(r)).toEqual(pick(oracle(region, readings) as Stats));
        },
      ),
      { numRuns: 15 },
    );
  });
});
