/**
 * A deterministic simulation of the fold-and-merge rules. Each replica is the real aggregator guest on an
 * in-memory store behind the real ingest pipeline; JetStream is modelled as a log that delivers in any
 * order, any number of times (or never: drops); partitions cut replicas off (their outboxes wait); and
 * anti-entropy is the real `reconcile` of src/replication between two replicas. Whatever the schedule, after
 * healing every replica ends equal to the oracle computed from the distinct readings, and the merge that
 * anti-entropy performs is idempotent, commutative and associative.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/ingest-pipeline.js';
import { MemoryStore, type GuestModule, type StoredEvent } from '../../src/runtime/index.js';
import { digestEvents, digestWindow, reconcile, type ApplyResult, type DigestQuery, type EventsQuery, type Replica } from '../../src/replication/index.js';
import type { EventDigest } from '../../src/store/index.js';
import { loadTestGuest } from '../helpers/guests.js';
import { expectAggregate, type Aggregate, type Reading } from '../guests/aggregator-oracle.js';

const SEED = Number(process.env.SIM_SEED ?? 20_251_124);
const STREAM = 'aggregator';
const MINUTE = 60_000;
const BASE = Math.floor(Date.now() / MINUTE) * MINUTE - 3 * 60 * MINUTE;
const REGIONS = ['north', 'south', 'east.lab'];
const window = () => digestWindow(Date.now(), 7 * 24 * 3_600_000, 0);

function identity(e: { source: string; timeMs: number }): string {
  return `${e.timeMs}\n${e.source}`;
}

/** One replica: the aggregator guest and the real pipeline on a MemoryStore, and the events it holds. */
class SimReplica implements Replica {
  readonly held = new Map<string, StoredEvent>();
  private constructor(
    readonly name: string,
    readonly module: GuestModule,
    readonly pipeline: IngestPipeline,
    readonly store: MemoryStore,
  ) {}

  static async create(name: string): Promise<SimReplica> {
    const store = new MemoryStore();
    const module = await loadTestGuest('aggregator', { store });
    const transactional = { transaction: <T>(fn: () => T): T => store.atomically(fn), atomically: <T>(fn: () => T): T => store.atomically(fn) };
    return new SimReplica(name, module, new IngestPipeline({ store: transactional, module }), store);
  }

  /** A sensor posts readings here; returns the events that were new (what goes into the outbox). */
  async ingest(readings: Reading[]): Promise<StoredEvent[]> {
    const res = await this.pipeline.submit({
      method: 'POST',
      path: '/v1/readings',
      query: '',
      contentType: 'application/json',
      principal: { kind: 'gateway', subject: '' },
      body: Buffer.from(JSON.stringify(readings)),
    });
    expect(res.status).toBe(200);
    for (const e of res.newEvents) this.held.set(identity(e), e);
    return res.newEvents;
  }

  async digests(q: DigestQuery): Promise<EventDigest[]> {
    const events = [...this.held.values()].filter((e) => {
      const minute = Math.floor(e.timeMs / MINUTE);
      return minute >= q.fromMinute && minute < q.toMinute && (q.partition === undefined || e.partition === q.partition);
    });
    return digestEvents(events, q.level);
  }

  async events(q: EventsQuery) {
    const all = [...this.held.values()]
      .filter((e) => e.partition === q.partition && e.timeMs >= q.fromMs && e.timeMs < q.toMs)
      .sort((a, b) => a.timeMs - b.timeMs || Buffer.compare(Buffer.from(a.source), Buffer.from(b.source)));
    const after = q.after;
    const rest = after === undefined ? all : all.filter((e) => e.timeMs > after.timeMs || (e.timeMs === after.timeMs && Buffer.compare(Buffer.from(e.source), Buffer.from(after.source)) > 0));
    const page = rest.slice(0, q.limit);
    const last = page[page.length - 1];
    return { events: page, next: page.length === q.limit && last !== undefined ? { timeMs: last.timeMs, source: last.source } : undefined };
  }

  /** Events from elsewhere (a JetStream delivery or a repair): the same dedup and fold as the node's. */
  async apply(stream: string, events: StoredEvent[]): Promise<ApplyResult> {
    const { outcomes } = await this.pipeline.submitEvents(events, (e) => this.store.appendEvent(stream, e));
    const result = { new: 0, duplicate: 0, conflict: 0 };
    outcomes.forEach((o, i) => {
      result[o === 'new' ? 'new' : o === 'duplicate' ? 'duplicate' : 'conflict']++;
      if (o === 'new') this.held.set(identity(events[i]!), events[i]!);
    });
    return result;
  }

  /** Everything a client can read: all regions, and each region's minute series. */
  render(): string {
    const get = (path: string, query = ''): string => {
      const res = this.module.invokeHttp({ method: 'GET', path, query, contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) });
      return Buffer.from(res.body).toString('utf8');
    };
    const all = get('/v1/regions');
    const regions = (JSON.parse(all) as { regions: Aggregate[] }).regions.map((r) => r.region);
    return [all, ...regions.map((r) => get(`/v1/regions/${r}/series`, `bucket=1m&from=${BASE - 60 * MINUTE}&to=${BASE + 5 * 60 * MINUTE}`))].join('\n');
  }

  aggregates(): Aggregate[] {
    return (JSON.parse(this.render().split('\n')[0]!) as { regions: Aggregate[] }).regions;
  }
}

const merge = async (a: SimReplica, b: SimReplica): Promise<SimReplica> => {
  await reconcile(a, b, { stream: STREAM, window: window(), pageSize: 7 });
  return a;
};

const readingArb = fc.record({
  device: fc.integer({ min: 0, max: 5 }),
  region: fc.constantFrom(...REGIONS),
  offset: fc.integer({ min: 0, max: 150 * MINUTE }),
  temperature_c: fc.integer({ min: -4000, max: 6000 }).map((n) => n / 100),
});
const poolArb = fc.uniqueArray(readingArb, { minLength: 1, maxLength: 40, selector: (r) => `${r.device}:${r.offset}` }).map((pool) =>
  pool.map(
    (r): Reading => ({
      // A device's region is fixed, so a reading's identity decides its content: no conflicts here.
      device_id: `dev-${r.device}`,
      region: REGIONS[r.device % REGIONS.length]!,
      temperature_c: r.temperature_c,
      timestamp: BASE + r.offset,
    }),
  ),
);

type Step =
  | { kind: 'ingest'; node: number; reading: number }
  | { kind: 'deliver'; node: number; message: number }
  | { kind: 'cut'; node: number; cut: boolean }
  | { kind: 'anti-entropy'; a: number; b: number };

const NODES = 3;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ingest' as const), node: fc.nat(NODES - 1), reading: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), node: fc.nat(NODES - 1), message: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), node: fc.nat(NODES - 1), cut: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('anti-entropy' as const), a: fc.nat(NODES - 1), b: fc.nat(NODES - 1) }) },
);

function expectOracle(replica: SimReplica, distinct: Reading[]): void {
  const byRegion = new Map<string, Reading[]>();
  for (const r of distinct) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
  const aggregates = replica.aggregates();
  expect(aggregates.map((a) => a.region).sort()).toEqual([...byRegion.keys()].sort());
  for (const a of aggregates) expectAggregate(a, a.region, byRegion.get(a.region)!);
}

describe('replication simulation (fast-check, seed ' + SEED + ')', () => {
  it('all replicas end equal to the oracle under any delivery order, duplicates, drops and partitions', async () => {
    await fc.assert(
      fc.asyncProperty(poolArb, fc.array(stepArb, { minLength: 1, maxLength: 120 }), async (pool, steps) => {
        const replicas = await Promise.all(Array.from({ length: NODES }, (_, i) => SimReplica.create(`r${i}`)));
        const cut = new Set<number>();
        const outboxes: StoredEvent[][] = replicas.map(() => []);
        /** What JetStream holds: every published event, delivered in any order, any number of times, or never. */
        const log: StoredEvent[] = [];
        const accepted = new Map<string, Reading>();
        const publish = (i: number): void => {
          if (cut.has(i)) return;
          log.push(...outboxes[i]!);
          outboxes[i] = [];
        };
        for (const step of steps) {
          if (step.kind === 'ingest') {
            const reading = pool[step.reading % pool.length]!;
            const fresh = await replicas[step.node]!.ingest([reading]);
            if (fresh.length > 0) accepted.set(`${reading.device_id}\n${reading.timestamp}`, reading);
            outboxes[step.node]!.push(...fresh);
            publish(step.node);
          } else if (step.kind === 'deliver') {
            if (cut.has(step.node) || log.length === 0) continue;
            await replicas[step.node]!.apply(STREAM, [log[step.message % log.length]!]);
          } else if (step.kind === 'cut') {
            if (step.cut) cut.add(step.node);
            else {
              cut.delete(step.node);
              publish(step.node);
            }
          } else if (step.a !== step.b && !cut.has(step.a) && !cut.has(step.b)) {
            await merge(replicas[step.a]!, replicas[step.b]!);
          }
        }
        // Heal: the links return, outboxes drain, and anti-entropy runs between every pair.
        cut.clear();
        replicas.forEach((_, i) => publish(i));
        for (let a = 0; a < NODES; a++) for (let b = a + 1; b < NODES; b++) await merge(replicas[a]!, replicas[b]!);
        for (let a = 0; a < NODES; a++) for (let b = a + 1; b < NODES; b++) await merge(replicas[a]!, replicas[b]!);
        const rendered = replicas.map((r) => r.render());
        expect(new Set(rendered).size).toBe(1);
        expectOracle(replicas[0]!, [...accepted.values()]);
        // Converged: another round finds nothing to do.
        const again = await reconcile(replicas[0]!, replicas[2]!, { stream: STREAM, window: window() });
        expect(again).toMatchObject({ hours: 0, minutes: 0 });
      }),
      { seed: SEED, numRuns: 60 },
    );
  }, 120_000);

  const subsets = poolArb.chain((pool) => fc.tuple(fc.constant(pool), fc.subarray(pool), fc.subarray(pool), fc.subarray(pool)));
  const replicaOf = async (name: string, readings: Reading[]): Promise<SimReplica> => {
    const r = await SimReplica.create(name);
    // One at a time, in the order given: a different order gives the same state (that is the point).
    for (const reading of readings) await r.ingest([reading]);
    return r;
  };

  it('merge is idempotent: merging a state with itself, or again, changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(subsets, async ([, x, y]) => {
        const a = await replicaOf('a', x);
        const before = a.render();
        const report = await reconcile(a, await replicaOf('a-copy', [...x].reverse()), { stream: STREAM, window: window() });
        expect(report).toMatchObject({ hours: 0, minutes: 0 });
        expect(a.render()).toBe(before);
        const b = await replicaOf('b', y);
        const once = (await merge(a, b)).render();
        const twice = (await merge(a, b)).render();
        expect(twice).toBe(once);
      }),
      { seed: SEED, numRuns: 30 },
    );
  }, 60_000);

  it('merge is commutative and associative, and equals the oracle of the union', async () => {
    await fc.assert(
      fc.asyncProperty(subsets, async ([, x, y, z]) => {
        const xy = (await merge(await replicaOf('x', x), await replicaOf('y', y))).render();
        const yx = (await merge(await replicaOf('y', y), await replicaOf('x', x))).render();
        expect(yx).toBe(xy);
        const left = await merge(await merge(await replicaOf('x', x), await replicaOf('y', y)), await replicaOf('z', z));
        const right = await merge(await replicaOf('x', x), await merge(await replicaOf('y', y), await replicaOf('z', z)));
        expect(right.render()).toBe(left.render());
        const union = new Map([...x, ...y, ...z].map((r) => [`${r.device_id}\n${r.timestamp}`, r]));
        expectOracle(left, [...union.values()]);
      }),
      { seed: SEED, numRuns: 30 },
    );
  }, 60_000);
});
