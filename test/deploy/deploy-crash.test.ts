/**
 * `kill -9` during a deploy, during a state build and during a promotion: the node restarts into a
 * consistent deployment (the old version or the new one serves, never neither; a build starts again), no
 * half-written module is left in the registry, and the aggregates equal those of a node that received the
 * same acknowledged readings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually, sleep } from '../helpers/poll.js';
import { aggregatorVersion, appView, deploy, trustingDataDir } from './deploy-fixtures.js';
import { ReadingLoad, aggregateViews, postAll } from './reading-load.js';

describe('kill -9 during deployments', () => {
  const dataDir = trustingDataDir();
  let node: NodeProcess;
  let load: ReadingLoad;

  const restart = async (): Promise<void> => {
    node = await NodeProcess.start({ dataDir });
    if (load) load.node = node;
  };

  beforeAll(async () => {
    await restart();
    load = new ReadingLoad(node, await node.token('gateway', 'gw'), new Map());
    // Enough events that a build takes a while: the kills land in it.
    for (let i = 0; i < 30; i++) await load.post(Array.from({ length: 1000 }, () => load.next(500)), await node.token('gateway', 'gw'), true);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function settled(admin: string): Promise<{ stable: string; canary: string | undefined }> {
    const view = await eventually(async () => {
      const v = await appView(node, admin, 'aggregator');
      return v && !v.building ? v : undefined;
    }, { timeoutMs: 60_000, message: 'no build in progress after the restart' });
    expect(view.stable).not.toBeNull();
    return { stable: view.stable!.version, canary: view.canary?.version };
  }

  it('leaves the old or the new version serving, whatever instant the kill lands on', async () => {
    const versions = ['0.1.0'];
    for (let round = 0; round < 6; round++) {
      const admin = await node.token('admin', 'ops');
      const version = `0.2.${round}`;
      const sent = deploy(node, admin, aggregatorVersion(version, round + 1)).catch(() => undefined);
      // Kill at a different instant each round: while the request is checked, stored, or the state builds.
      await sleep([0, 5, 20, 60, 150, 400][round]!);
      await node.kill();
      await sent;
      await restart();
      const after = await settled(await node.token('admin', 'ops'));
      expect([...versions, version]).toContain(after.stable);
      if (after.stable === version) versions.push(version);
      const modules = readdirSync(join(dataDir, 'modules'));
      expect(modules.filter((f) => f.includes('.tmp-'))).toEqual([]);
    }
  }, 240_000);

  it('a kill right after a promotion leaves the canary or the promoted version, and the aggregates exact', async () => {
    let admin = await node.token('admin', 'ops');
    const res = await deploy(node, admin, aggregatorVersion('0.3.0', 10), { canary_percent: 20 });
    expect(res.status, await res.clone().text()).toBe(202);
    await eventually(async () => ((await appView(node, admin, 'aggregator'))?.canary?.version === '0.3.0' ? true : undefined), { timeoutMs: 60_000 });
    const promoting = node.fetch('/v1/deployments/aggregator/promote', { method: 'POST', token: admin, body: '{}' }).catch(() => undefined);
    await sleep(2);
    await node.kill();
    await promoting;
    await restart();
    admin = await node.token('admin', 'ops');
    const after = await settled(admin);
    // Promoted: 0.3.0 is stable and there is no canary; not promoted: 0.3.0 is still the canary.
    expect(after.stable === '0.3.0' ? after.canary : after.canary).toBe(after.stable === '0.3.0' ? undefined : '0.3.0');
    // More readings after the restarts, then the aggregates against an oracle.
    for (let i = 0; i < 3; i++) await load.post(Array.from({ length: 500 }, () => load.next(500)), await node.token('gateway', 'gw'), true);
    expect(load.failures).toEqual([]);
    const oracle = await NodeProcess.start();
    try {
      await postAll(oracle, await oracle.token('gateway'), load.acknowledged);
      const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
      const mine = await aggregateViews(node, await node.token('read'), from, from + 4 * 3_600_000);
      const theirs = await aggregateViews(oracle, await oracle.token('read'), from, from + 4 * 3_600_000);
      expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(theirs));
    } finally {
      await oracle.stop();
      oracle.cleanup();
    }
  }, 180_000);
});
