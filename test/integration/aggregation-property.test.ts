/**
 * Over real HTTP against a real node: for any set of readings, sent with duplicates, in any order,
 * split into any batches and sent concurrently, the region's aggregates equal those computed
 * directly from the distinct readings (quantiles within the sketch's stated error bound).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Reading } from '../../src/client/index.js';
import { NodeProcess } from '../helpers/node-process.js';

let node: NodeProcess;
let gateway: string;
let reader: string;
const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

beforeAll(async () => {
  node = await NodeProcess.start();
  [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
});

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

/** The aggregates as docs/api.md defines them, computed directly. */
function oracle(readings: Reading[]) {
  const temps = readings.map((r) => r.temperature_c).sort((a, b) => a - b);
  const micro = readings.reduce((s, r) => s + Math.sign(r.temperature_c) * Math.round(Math.abs(r.temperature_c) * 1e6), 0);
  const last = [...readings].sort((a, b) => b.timestamp - a.timestamp || (a.device_id < b.device_id ? 1 : -1))[0]!;
  const q = (p: number) => temps[Math.floor(p * (temps.length - 1))]!;
  return { count: readings.length, sum: micro / 1e6, min: temps[0]!, max: temps[temps.length - 1]!, last, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

const temperature = fc.oneof(
  fc.integer({ min: -4000, max: 6000 }).map((n) => n / 100),
  fc.double({ min: -273.15, max: 1000, noNaN: true, noDefaultInfinity: true }),
);

let run = 0;

it('aggregates equal a direct computation from the distinct readings', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(
        fc.record({ device: fc.integer({ min: 0, max: 7 }), offset: fc.integer({ min: 0, max: 20 * 60_000 }), temperature_c: temperature }),
        { minLength: 1, maxLength: 60, selector: (r) => `${r.device}:${r.offset}` },
      ),
      fc.array(fc.nat(), { maxLength: 30 }),
      fc.integer({ min: 1, max: 25 }),
      fc.infiniteStream(fc.nat()),
      async (distinct, duplicatePicks, batchSize, shuffle) => {
        const region = `prop-${run++}`;
        const readings: Reading[] = distinct.map((r) => ({
          device_id: `${region}-dev-${r.device}`, // identities are global: unique per run
          region,
          temperature_c: Object.is(r.temperature_c, -0) ? 0 : r.temperature_c,
          timestamp: base + r.offset,
        }));
        const sent = [...readings, ...duplicatePicks.map((i) => readings[i % readings.length]!)];
        // Any arrival order.
        const order = sent.map((r, i) => ({ r, k: shuffle.next().value! + i / 1e6 })).sort((a, b) => a.k - b.k).map((x) => x.r);
        const batches: Reading[][] = [];
        for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
        // Sent concurrently: they land in the same or different commit groups.
        const answers = await Promise.all(batches.map((b) => node.postReadings(b, gateway)));
        let accepted = 0;
        let duplicates = 0;
        for (const res of answers) {
          expect(res.status).toBe(200);
          const body = (await res.json()) as { accepted: number; duplicates: number; rejected: number };
          expect(body.rejected).toBe(0);
          accepted += body.accepted;
          duplicates += body.duplicates;
        }
        expect(accepted).toBe(readings.length);
        expect(duplicates).toBe(sent.length - readings.length);

        const res = await node.fetch(`/v1/regions/${region}`, { token: reader });
        expect(res.status).toBe(200);
        const got = (await res.json()) as Record<string, number> & { last: Reading };
        const want = oracle(readings);
        expect(got.count).toBe(want.count);
        expect(got.sum).toBeCloseTo(want.sum, 6);
        expect(got.mean).toBeCloseTo(want.sum / want.count, 6);
        expect(got.min).toBe(want.min);
        expect(got.max).toBe(want.max);
        expect(got.last).toEqual({ device_id: want.last.device_id, temperature_c: want.last.temperature_c, timestamp: want.last.timestamp });
        for (const p of ['p50', 'p90', 'p99'] as const) {
          expect(Math.abs(got[p]! - want[p]), `${p}: got ${got[p]}, exact ${want[p]}`).toBeLessThanOrEqual(0.01 * Math.abs(want[p]) + 0.001 + 1e-9);
        }
      },
    ),
    { numRuns: 25 },
  );
});
