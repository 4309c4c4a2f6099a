/**
 * Deployments on a running node with data, under load (issue 15's proofs): a new version rebuilds its
 * state and takes over with no failed request and aggregates equal, byte for byte, to those of a node that
 * only ever ran the old version on the same readings; a faulty canary is rolled back by the node itself and
 * no acknowledged reading is lost or counted twice; another app deployed at its own route answers there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { builtGuest } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually } from '../helpers/poll.js';
import { aggregatorVersion, appView, deploy, faultyAggregator, signed, trustingDataDir } from './deploy-fixtures.js';
import { ReadingLoad, aggregateViews, postAll } from './reading-load.js';

const CANARY_FLAGS = { 'canary-min-calls': '20', 'canary-window-ms': '60000', 'canary-max-error-excess-pct': '5' };

describe('deploying under load', () => {
  let node: NodeProcess;
  let admin: string;
  let reader: string;
  let load: ReadingLoad;

  beforeAll(async () => {
    node = await NodeProcess.start({ dataDir: trustingDataDir(), flags: CANARY_FLAGS });
    admin = await node.token('admin', 'ops');
    reader = await node.token('read');
    const devices = new Map<string, string>();
    for (let i = 0; i < 40; i++) devices.set(`tok-${i}`, await node.token('device', `tok-${i}`));
    load = new ReadingLoad(node, await node.token('gateway', 'gw-1'), devices);
    // Data before any deploy.
    for (let i = 0; i < 40; i++) await load.post(Array.from({ length: 250 }, () => load.next()), await node.token('gateway', 'gw-0'), true);
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(node.dataDir, { recursive: true, force: true });
  });

  async function underLoad<T>(fn: () => Promise<T>): Promise<T> {
    const stop = new AbortController();
    const running = [load.run(stop.signal), load.run(stop.signal)];
    try {
      return await fn();
    } finally {
      stop.abort();
      await Promise.all(running);
    }
  }

  async function expectEqualToAnOracle(): Promise<void> {
    const oracle = await NodeProcess.start();
    try {
      await postAll(oracle, await oracle.token('gateway'), load.acknowledged);
      const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
      const to = from + 4 * 3_600_000;
      const mine = await aggregateViews(node, reader, from, to);
      const theirs = await aggregateViews(oracle, await oracle.token('read'), from, to);
      expect(mine.size).toBeGreaterThan(8);
      expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(theirs));
    } finally {
      await oracle.stop();
      oracle.cleanup();
    }
  }

  it('v2 rebuilds its state from the event log and takes over; no request fails; aggregates equal a v1-only node', async () => {
    const before = await appView(node, admin, 'aggregator');
    expect(before?.stable?.version).toBe('0.1.0');
    await underLoad(async () => {
      const res = await deploy(node, admin, aggregatorVersion('0.2.0', 1));
      expect(res.status, await res.clone().text()).toBe(202);
      await eventually(async () => ((await appView(node, admin, 'aggregator'))?.stable?.version === '0.2.0' ? true : undefined), { timeoutMs: 60_000, message: 'v2 serving' });
    });
    expect(load.failures).toEqual([]);
    expect(load.servedBy.get('0.2.0')).toBeGreaterThan(0);
    const view = (await appView(node, admin, 'aggregator'))!;
    expect(view.highest_release).toBe(1);
    expect(view.history.map((h) => h.action)).toEqual(expect.arrayContaining(['deploy', 'promote']));
    await expectEqualToAnOracle();
  }, 120_000);

  it('a faulty canary at 10% is rolled back by the node; every acknowledged reading counted exactly once', async () => {
    const faulty = signed(await faultyAggregator(), 'aggregator', '0.3.0', { release: 3 });
    await underLoad(async () => {
      const res = await deploy(node, admin, faulty, { canary_percent: 10 });
      expect(res.status, await res.clone().text()).toBe(202);
      const view = await eventually(async () => {
        const v = await appView(node, admin, 'aggregator');
        return v?.rolled_back?.version === '0.3.0' ? v : undefined;
      }, { timeoutMs: 60_000, message: 'the faulty canary rolled back' });
      expect(view.rolled_back!.reason).toMatch(/error rate/);
      expect(view.canary).toBeNull();
      expect(view.stable!.version).toBe('0.2.0');
      expect(view.history[0]).toMatchObject({ actor: 'node', action: 'rollback', version: '0.3.0' });
    });
    // The canary's failed calls were answered by the stable version: no client saw them.
    expect(load.failures).toEqual([]);
    await expectEqualToAnOracle();
  }, 120_000);

  it("another app deployed at its own route answers there and the aggregator is unaffected", async () => {
    const before = await aggregateViews(node, reader, 0, 3_600_000);
    const example = signed(builtGuest('example'), 'example', '1.0.0', { capabilities: ['clock', 'config', 'events', 'kv', 'log', 'metrics'] });
    const res = await deploy(node, admin, example, { grants: ['clock', 'config', 'events', 'kv', 'log', 'metrics'], config: { greeting: 'hi' } });
    expect(res.status, await res.clone().text()).toBe(202);
    await eventually(async () => ((await appView(node, admin, 'example'))?.stable?.version === '1.0.0' ? true : undefined), { timeoutMs: 30_000 });
    const gateway = await node.token('gateway');
    const put = await node.fetch('/apps/example/kv/colour', { method: 'PUT', token: gateway, body: 'blue' });
    expect(put.status, await put.clone().text()).toBeLessThan(300);
    expect(put.headers.get('x-edgeagg-version')).toBe('1.0.0');
    const got = await node.fetch('/apps/example/kv/colour', { token: reader });
    expect(got.status).toBe(200);
    expect(await got.text()).toContain('blue');
    const time = await node.fetch('/apps/example/time', { token: reader });
    expect(time.status).toBe(200);
    expect((await node.fetch('/apps/nothing/time', { token: reader })).status).toBe(404);
    expect(await aggregateViews(node, reader, 0, 3_600_000)).toEqual(before);
  }, 60_000);
});
