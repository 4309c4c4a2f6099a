/**
 * `--regions`: a node follows only the regions it serves (one durable consumer per region subject), through
 * JetStream and anti-entropy alike, while what it accepts itself still reaches the rest of the fleet.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Aggregate } from '../guests/aggregator-oracle.js';
import { NatsServer } from './helpers/nats-server.js';
import { sleep, until } from '../helpers/poll.js';
import { TestFleet, getJson, post, readings } from './helpers/fleet.js';

let nats: NatsServer;
let fleet: TestFleet;

beforeAll(async () => {
  nats = await NatsServer.start();
  fleet = new TestFleet(['everything', 'west'], nats.url, { 'anti-entropy-interval-ms': '500' });
  fleet.member('west').flags.regions = 'eu-west,eu-west.lab';
  await Promise.all([fleet.start('everything'), fleet.start('west')]);
});

afterAll(async () => {
  await fleet?.cleanup();
  await nats?.cleanup();
});

it('a node that follows some regions receives only those, and its own readings reach everyone', async () => {
  const everything = fleet.node('everything');
  const west = fleet.node('west');
  const gateway = await everything.token('gateway');
  const reader = await everything.token('read');
  const regionsOf = async (node: typeof west) => (await getJson<{ regions: Aggregate[] }>(node, '/v1/regions', reader)).regions.map((r) => `${r.region}=${r.count}`);
  const base = Date.now() - 30 * 60_000;
  await post(everything, gateway, readings('a', 60, base, ['eu-west', 'eu-west.lab', 'us-east'], 3));
  await post(west, gateway, readings('b', 10, base, ['us-east'], 5));
  await until(async () => (await regionsOf(west)).join() === 'eu-west=20,eu-west.lab=20,us-east=10', { timeoutMs: 15_000, intervalMs: 250, message: async () => (await regionsOf(west)).join() });
  await until(async () => (await regionsOf(everything)).join() === 'eu-west=20,eu-west.lab=20,us-east=30', { timeoutMs: 15_000, intervalMs: 250, message: async () => (await regionsOf(everything)).join() });
  // Anti-entropy rounds (every 0.5 s) do not bring the other regions in either.
  await sleep(3_000);
  expect(await regionsOf(west)).toEqual(['eu-west=20', 'eu-west.lab=20', 'us-east=10']);
  const fleetOfWest = await getJson<{ nodes: Array<{ self: boolean; regions: unknown }>; anti_entropy: { rounds: number; repaired_in: number } }>(west, '/v1/fleet', reader);
  expect(fleetOfWest.nodes.find((n) => n.self)!.regions).toEqual(['eu-west', 'eu-west.lab']);
  expect(fleetOfWest.anti_entropy.repaired_in).toBe(0);
});
