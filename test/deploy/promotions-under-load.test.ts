/**
 * Twenty promotions and rollbacks under constant load (gateway batches split across the canary, device
 * requests on both sides): no request fails, and afterwards the aggregates equal, byte for byte, those of a
 * node that received the same acknowledged readings. A call in flight finishes on the version it started on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually } from '../helpers/poll.js';
import { aggregatorVersion, appView, deploy, trustingDataDir } from './deploy-fixtures.js';
import { ReadingLoad, aggregateViews, postAll } from './reading-load.js';

describe('promotions and rollbacks under load', () => {
  let node: NodeProcess;
  let admin: string;
  let load: ReadingLoad;

  beforeAll(async () => {
    node = await NodeProcess.start({ dataDir: trustingDataDir() });
    admin = await node.token('admin', 'ops');
    const devices = new Map<string, string>();
    for (let i = 0; i < 30; i++) devices.set(`tok-${i}`, await node.token('device', `tok-${i}`));
    load = new ReadingLoad(node, await node.token('gateway', 'gw'), devices);
    for (let i = 0; i < 5; i++) await load.post(Array.from({ length: 500 }, () => load.next()), await node.token('gateway', 'gw'), true);
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(node.dataDir, { recursive: true, force: true });
  });

  const post = async (path: string, body: unknown): Promise<void> => {
    const res = await node.fetch(path, { method: 'POST', token: admin, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
  };

  it('drop no request and keep the aggregates exact', async () => {
    const stop = new AbortController();
    const running = [load.run(stop.signal), load.run(stop.signal), load.run(stop.signal)];
    let changes = 0;
    try {
      for (let round = 0; round < 10; round++) {
        const version = `0.5.${round}`;
        const res = await deploy(node, admin, aggregatorVersion(version, 5), { canary_percent: 30 });
        expect(res.status, await res.clone().text()).toBe(202);
        await eventually(async () => ((await appView(node, admin, 'aggregator'))?.canary?.version === version ? true : undefined), { timeoutMs: 30_000 });
        await post('/v1/deployments/aggregator/promote', { percent: 60 });
        changes++;
        if (round % 2 === 0) {
          await post('/v1/deployments/aggregator/rollback', { reason: `round ${round}` });
        } else {
          await post('/v1/deployments/aggregator/promote', {});
        }
        changes++;
      }
    } finally {
      stop.abort();
      await Promise.all(running);
    }
    expect(changes).toBe(20);
    expect(load.failures).toEqual([]);
    // Both sides served: batches split across versions say so in their header.
    expect([...load.servedBy.keys()].some((v) => v.includes(','))).toBe(true);
    const view = (await appView(node, admin, 'aggregator'))!;
    expect(view.stable!.version).toBe('0.5.9');
    expect(view.history.filter((h) => h.action === 'rollback')).toHaveLength(5);
    const oracle = await NodeProcess.start();
    try {
      await postAll(oracle, await oracle.token('gateway'), load.acknowledged);
      const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
      const reader = await node.token('read');
      expect(Object.fromEntries(await aggregateViews(node, reader, from, from + 4 * 3_600_000))).toEqual(
        Object.fromEntries(await aggregateViews(oracle, await oracle.token('read'), from, from + 4 * 3_600_000)),
      );
    } finally {
      await oracle.stop();
      oracle.cleanup();
    }
  }, 240_000);
});
