/**
 * Three real node processes and a real nats-server on loopback, through everything the issue names: each
 * node ingests its own readings while cut off (NATS stopped; one node even starts without reaching it), the
 * same readings go to two nodes, NATS restarts, a node is SIGKILLed while it syncs and comes back, and
 * JetStream loses messages (the stream is purged) before a node could consume them. After healing, every
 * node's `/v1/regions` is identical and equal to a recomputation from the distinct readings, and every
 * reading any node acknowledged is counted everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { expectAggregate, type Aggregate, type Reading } from '../guests/aggregator-oracle.js';
import { NatsServer } from './helpers/nats-server.js';
import { until } from '../helpers/poll.js';
import { TestFleet, getJson, post, readings } from './helpers/fleet.js';

const REGIONS = ['eu-west', 'eu-west.lab', 'us_east', 'ap-south'];
const NAMES = ['n1', 'n2', 'n3'];

interface Fleet {
  node_id: string;
  nats: { state: string; jetstream: string };
  nodes: Array<{ node_id: string; self: boolean; outbox_depth: number; pending: number; last_contact_age_ms: number; replication_lag_ms: number | null }>;
  publisher: { published: number };
  consumer: { applied: number; own: number };
  anti_entropy: { rounds: number; repaired_in: number; repaired_out: number; digests_ready: boolean };
}

describe('a fleet of three nodes over NATS JetStream', () => {
  let nats: NatsServer;
  let fleet: TestFleet;
  let gateway: string;
  let reader: string;
  /** Every reading any node acknowledged, by identity. */
  const acknowledged = new Map<string, Reading>();
  const base = Date.now() - 60 * 60_000;

  const ack = (list: Reading[]): void => {
    for (const r of list) acknowledged.set(`${r.device_id}\n${r.timestamp}`, r);
  };
  const fleetOf = (name: string): Promise<Fleet> => getJson<Fleet>(fleet.node(name), '/v1/fleet', reader);
  const regionsOf = async (node: NodeProcess): Promise<string> => {
    const res = await node.fetch('/v1/regions', { token: reader });
    return res.text();
  };
  const converged = async (): Promise<boolean> => {
    const bodies = await Promise.all(fleet.running().map(regionsOf));
    if (new Set(bodies).size !== 1) return false;
    const { regions } = JSON.parse(bodies[0]!) as { regions: Aggregate[] };
    const counts = new Map<string, number>();
    for (const r of acknowledged.values()) counts.set(r.region, (counts.get(r.region) ?? 0) + 1);
    return regions.length === counts.size && regions.every((a) => a.count === counts.get(a.region));
  };
  const describeState = async (): Promise<string> => {
    const lines: string[] = [];
    for (const m of fleet.members.values()) {
      if (!m.process) continue;
      const body = JSON.parse(await regionsOf(m.process)) as { regions: Aggregate[] };
      lines.push(`${m.name}: ${body.regions.map((r) => `${r.region}=${r.count}`).join(' ')}`);
      lines.push(`  fleet: ${JSON.stringify(await fleetOf(m.name).catch((e: unknown) => String(e)))}`);
    }
    const counts = new Map<string, number>();
    for (const r of acknowledged.values()) counts.set(r.region, (counts.get(r.region) ?? 0) + 1);
    lines.push(`want: ${[...counts].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    return lines.join('\n');
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    fleet = new TestFleet(NAMES, nats.url);
    await Promise.all(NAMES.map((n) => fleet.start(n)));
    // Tokens made by n1: the others trust its key (--token-keys), so they work on every node.
    gateway = await fleet.node('n1').token('gateway');
    reader = await fleet.node('n1').token('read');
  });

  afterAll(async () => {
    if (process.env.DEBUG_FLEET) for (const m of fleet.members.values()) console.log(m.name, m.process?.stderr.split('\n').filter((l) => !l.includes('"info"') || l.includes('anti-entropy') || l.includes('rebuilt')).join('\n'));
    await fleet?.cleanup();
    await nats?.cleanup();
  });

  it('replicates readings accepted by one node to the others', async () => {
    const first = readings('warmup', 300, base, REGIONS, 30);
    await post(fleet.node('n1'), gateway, first);
    ack(first);
    await until(converged, { timeoutMs: 20_000, intervalMs: 250, message: describeState });
    // Each node hears the others' heartbeats (every 2 s).
    await until(async () => (await fleetOf('n2')).nodes.length === 3, { timeoutMs: 10_000, intervalMs: 250, message: describeState });
    const f = await fleetOf('n2');
    expect(f.nats).toMatchObject({ state: 'connected', jetstream: 'ok' });
    expect(f.nodes.map((n) => n.node_id).sort()).toEqual(NAMES);
    expect(f.consumer.applied).toBe(300);
    expect(f.nodes.find((n) => n.node_id === 'n1')!.last_contact_age_ms).toBeLessThan(10_000);
  }, 60_000);

  it('trusts tokens fleet-wide: a device token minted by n1 is accepted by n2; a node without the key refuses it', async () => {
    const device = await fleet.node('n1').token('device', 'roaming-sensor');
    const reading = { device_id: 'roaming-sensor', region: 'eu-west', temperature_c: 19.25, timestamp: base + 1 };
    const res = await fleet.node('n2').postReadings(reading, device);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1 });
    ack([reading]);
    const stranger = await NodeProcess.start();
    try {
      const refused = await stranger.postReadings(reading, device);
      expect(refused.status).toBe(401);
      // A node without --nats runs alone: its fleet is itself.
      const alone = await getJson<{ replication: string; nodes: unknown[] }>(stranger, '/v1/fleet', await stranger.token('read'));
      expect(alone.replication).toBe('off');
      expect(alone.nodes).toHaveLength(1);
    } finally {
      await stranger.stop();
      stranger.cleanup();
    }
  }, 60_000);

  it('converges after partitions, duplicates across nodes, a NATS restart and a SIGKILL during sync', async () => {
    await nats.stop();
    // Cut off: each node keeps accepting its own readings.
    const own = NAMES.map((n) => readings(`cut-${n}`, n === 'n3' ? 20_000 : 400, base + 5 * 60_000, REGIONS, 40));
    const shared = readings('failover', 250, base + 10 * 60_000, REGIONS, 25);
    await Promise.all(NAMES.map((n, i) => post(fleet.node(n), gateway, own[i]!)));
    const onFirst = await post(fleet.node('n1'), gateway, shared);
    const onSecond = await post(fleet.node('n2'), gateway, shared); // the sensors failed over and sent them again
    expect(onFirst.accepted).toBe(250);
    expect(onSecond.accepted).toBe(250); // n2 had not seen them: new there too
    for (const list of [...own, shared]) ack(list);
    // A node (re)started while NATS is unreachable comes up and serves.
    await fleet.stop('n3');
    await fleet.start('n3');
    expect((await fleetOf('n3')).nats.state).not.toBe('connected');
    expect((await fleetOf('n3')).nodes[0]!.outbox_depth).toBe(20_000);

    await nats.restart();
    // n3 is publishing its 20,000 readings and folding the others' when it is killed.
    await until(async () => (await fleetOf('n3')).publisher.published > 0, { timeoutMs: 20_000, intervalMs: 20, message: describeState });
    await fleet.stop('n3', 'SIGKILL');
    await fleet.start('n3');

    await until(converged, { timeoutMs: 60_000, intervalMs: 250, message: describeState });
  }, 180_000);

  it('repairs what JetStream lost: messages purged before a node consumed them arrive by anti-entropy', async () => {
    await fleet.stop('n2');
    const lost = readings('lost', 500, base + 20 * 60_000, REGIONS, 25);
    await post(fleet.node('n1'), gateway, lost);
    ack(lost);
    // Published and delivered to n3, then gone from the stream before n2 came back.
    await until(async () => (await fleetOf('n1')).nodes[0]!.outbox_depth === 0, { timeoutMs: 20_000, intervalMs: 250, message: describeState });
    await until(async () => (await regionsOf(fleet.node('n3'))) === (await regionsOf(fleet.node('n1'))), { timeoutMs: 20_000, intervalMs: 250, message: describeState });
    expect(await nats.purgeStream()).toBeGreaterThan(0);
    await fleet.start('n2');
    await until(converged, { timeoutMs: 60_000, intervalMs: 250, message: describeState });
    // n2 restarted, so its counters count this phase only: the 500 came by anti-entropy. A repair is counted
    // once it is durable, a moment after reads can see it, so the last round's count may still be on its way.
    await until(async () => (await fleetOf('n2')).anti_entropy.repaired_in >= 500, { timeoutMs: 10_000, intervalMs: 250, message: async () => JSON.stringify((await fleetOf('n2')).anti_entropy) });
  }, 120_000);

  it('ends with identical aggregates everywhere, equal to a recomputation from the distinct readings', async () => {
    await until(converged, { timeoutMs: 30_000, intervalMs: 250, message: describeState });
    const bodies = await Promise.all(fleet.running().map(regionsOf));
    expect(new Set(bodies).size).toBe(1);
    const { regions } = JSON.parse(bodies[0]!) as { regions: Aggregate[] };
    const byRegion = new Map<string, Reading[]>();
    for (const r of acknowledged.values()) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
    expect(regions.map((r) => r.region)).toEqual([...byRegion.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const aggregate of regions) expectAggregate(aggregate, aggregate.region, byRegion.get(aggregate.region)!);
    // Per minute too: the series of every node are the same.
    for (const region of byRegion.keys()) {
      const path = `/v1/regions/${region}/series?bucket=1m&from=${Math.floor(base / 60_000) * 60_000 - 60_000}&to=${Math.ceil((Date.now() + 60_000) / 60_000) * 60_000}`;
      const series = await Promise.all(fleet.running().map(async (n) => (await n.fetch(path, { token: reader })).text()));
      expect(new Set(series).size, region).toBe(1);
    }
  }, 60_000);
});
