/** SIGKILL at random moments under load, then restart (test/fault/crash-harness.ts); CI runs 10 rounds. */
import { expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { PRUNING_FLAGS, runCrashRounds } from './crash-harness.js';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);
const PRUNING_ROUNDS = Number(process.env.CRASH_PRUNING_ROUNDS ?? 5);

it(`keeps every acknowledged reading, counts each once, and stays intact over ${ROUNDS} kill -9 rounds`, async () => {
  const result = await runCrashRounds({ rounds: ROUNDS, seed: process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : undefined, log: (l) => console.log(l) });
  expect(result.acknowledged).toBeGreaterThan(0);
  expect(result.stored).toBeGreaterThanOrEqual(result.acknowledged);
}, 60_000 + ROUNDS * 10_000);

it(`the same with pruning running all the time: ${PRUNING_ROUNDS} kill -9 rounds, many inside pruning transactions`, async () => {
  const result = await runCrashRounds({ rounds: PRUNING_ROUNDS, flags: PRUNING_FLAGS, seed: process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : undefined, log: (l) => console.log(l) });
  expect(result.acknowledged).toBeGreaterThan(0);
  expect(result.stored).toBeGreaterThanOrEqual(result.acknowledged);
}, 60_000 + PRUNING_ROUNDS * 10_000);

it('folds after a restart the readings whose fold a kill -9 cut short (the fold journal)', async () => {
  // The fold waits ten minutes, so every reading below is acknowledged with its fold still to come.
  const node = await NodeProcess.start({ flags: { 'fold-delay-ms': '600000' } });
  try {
    const [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
    const now = Date.now();
    const readings = Array.from({ length: 30 }, (_, i) => ({ device_id: `d-${i % 4}`, region: `crash-${i % 2}`, temperature_c: i / 2, timestamp: now - 60_000 + i }));
    for (const batch of [readings.slice(0, 10), readings.slice(10)]) {
      const res = await node.postReadings(batch, gateway);
      expect(res.status).toBe(200);
    }
    await node.kill();
    const again = await NodeProcess.start({ dataDir: node.dataDir, flags: { 'fold-delay-ms': '600000' } });
    try {
      const res = await again.fetch('/v1/regions', { token: reader });
      const regions = ((await res.json()) as { regions: Array<{ region: string; count: number; sum: number }> }).regions;
      expect(regions.map((r) => [r.region, r.count, r.sum])).toEqual([
        ['crash-0', 15, readings.filter((_r, i) => i % 2 === 0).reduce((s, r) => s + r.temperature_c, 0)],
        ['crash-1', 15, readings.filter((_r, i) => i % 2 === 1).reduce((s, r) => s + r.temperature_c, 0)],
      ]);
    } finally {
      await again.stop();
    }
  } finally {
    node.cleanup();
  }
}, 30_000);

it('a start with the journal off (durability normal, or --db-commit-interval-ms 0) still applies what a killed node journaled', async () => {
  // Readings in the journal only: the database commits what it holds every ten minutes at the earliest.
  const journaled = { 'db-commit-interval-ms': '600000' };
  const restarts: Array<Record<string, string>> = [{ durability: 'normal' }, { 'db-commit-interval-ms': '0' }];
  for (const flags of restarts) {
    const node = await NodeProcess.start({ flags: journaled });
    try {
      const [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
      const now = Date.now();
      await node.postReadings([{ device_id: 'j-0', region: 'journal', temperature_c: 1, timestamp: now - 61_000 }], gateway); // the region's first: committed
      const readings = Array.from({ length: 20 }, (_, i) => ({ device_id: `j-${i % 3}`, region: 'journal', temperature_c: i, timestamp: now - 60_000 + i }));
      expect((await node.postReadings(readings, gateway)).status).toBe(200);
      await node.kill();
      const again = await NodeProcess.start({ dataDir: node.dataDir, flags });
      try {
        const region = (await (await again.fetch('/v1/regions/journal', { token: reader })).json()) as { count: number };
        expect(region.count, JSON.stringify(flags)).toBe(21);
      } finally {
        await again.stop();
      }
    } finally {
      node.cleanup();
    }
  }
}, 60_000);
