/**
 * A node that was offline while 200,000 readings arrived at another node catches up by itself when it
 * comes back: from its durable JetStream consumer, folded through the same dedup, with no operator action.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Aggregate } from '../guests/aggregator-oracle.js';
import { NatsServer } from './helpers/nats-server.js';
import { until } from '../helpers/poll.js';
import { TestFleet, getJson, post, readings } from './helpers/fleet.js';

const READINGS = 200_000;
const REGIONS = Array.from({ length: 10 }, (_, i) => `region-${i}`);

let nats: NatsServer;
let fleet: TestFleet;

beforeAll(async () => {
  nats = await NatsServer.start();
  fleet = new TestFleet(['origin', 'late'], nats.url);
  await Promise.all([fleet.start('origin'), fleet.start('late')]);
});

afterAll(async () => {
  await fleet?.cleanup();
  await nats?.cleanup();
});

it(
  'a node offline while 200,000 readings arrive elsewhere catches up by itself',
  async () => {
    const origin = fleet.node('origin');
    const gateway = await origin.token('gateway');
    const reader = await origin.token('read');
    const fleetOf = (name: string) =>
      getJson<{ nodes: Array<{ self: boolean; outbox_depth: number; pending: number }>; consumer: { applied: number }; anti_entropy: { repaired_in: number } }>(fleet.node(name), '/v1/fleet', reader);
    // Its durable consumer exists; then it goes away.
    await until(async () => (await fleetOf('late')).nodes.length === 2, { timeoutMs: 10_000, intervalMs: 250, message: 'the late node never saw the origin' });
    await fleet.stop('late');

    const all = readings('backlog', READINGS, Date.now() - 30 * 60_000, REGIONS, 1_000);
    let started = performance.now();
    for (let i = 0; i < all.length; i += 10_000) await post(origin, gateway, all.slice(i, i + 10_000));
    const ingestSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    await until(async () => (await fleetOf('origin')).nodes[0]!.outbox_depth === 0, { timeoutMs: 90_000, intervalMs: 250, message: async () => JSON.stringify(await fleetOf('origin')) });
    const publishSeconds = (performance.now() - started) / 1000;
    const want = await (await origin.fetch('/v1/regions', { token: reader })).text();
    expect((JSON.parse(want) as { regions: Aggregate[] }).regions.reduce((s, r) => s + r.count, 0)).toBe(READINGS);

    started = performance.now();
    const late = await fleet.start('late');
    await until(
      async () => (await (await late.fetch('/v1/regions', { token: reader })).text()) === want,
      { timeoutMs: 90_000, intervalMs: 100, message: async () => JSON.stringify(await fleetOf('late')) },
    );
    const catchUpSeconds = (performance.now() - started) / 1000;
    const after = await fleetOf('late');
    console.log(
      `backlog: ${READINGS} readings ingested in ${ingestSeconds.toFixed(1)} s, published in ${publishSeconds.toFixed(1)} s; ` +
        `caught up (process start to identical aggregates) in ${catchUpSeconds.toFixed(1)} s = ${Math.round(READINGS / catchUpSeconds)} readings/s ` +
        `(${after.consumer.applied} through JetStream, ${after.anti_entropy.repaired_in} by anti-entropy)`,
    );
    // All of it through JetStream: anti-entropy stays out of the way of a node that is catching up.
    expect(after.consumer.applied).toBe(READINGS);
  },
  180_000,
);
