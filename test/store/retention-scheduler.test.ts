/**
 * The retention scheduler (src/node/maintenance.ts) on its own: the budget's states as the data grows and
 * shrinks, a pass of every namespace of each module, and start/stop.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RetentionScheduler, pruneRules } from '../../src/node/maintenance.js';
import { SqliteStore } from '../../src/store/index.js';
import { until } from '../helpers/poll.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2030, 0, 1);
const RULES = [{ prefix: 'm', unit_ms: MINUTE, keep: 'minute' as const }];

function open(): SqliteStore {
  const store = SqliteStore.open({ path: join(tempDir('scheduler'), 'edgeagg.db'), synchronous: 'normal' });
  defer(() => store.close());
  return store;
}

function minuteKey(minute: number, region: string): Buffer {
  const k = Buffer.alloc(5 + region.length);
  k.write('m', 'latin1');
  k.writeUInt32BE(minute, 1);
  k.write(region, 5, 'latin1');
  return k;
}

it('reports ok, near and full as the data grows, and ok again once a pass pruned it', async () => {
  const store = open();
  let now = T0;
  const budget = 400 * 1024;
  const scheduler = new RetentionScheduler({
    store,
    modules: () => [{ name: 'agg', manifest: { retention: RULES } }],
    policy: { eventsMs: 0, keepMs: { minute: 10 * MINUTE, hour: 0 } },
    intervalMs: 0,
    maxDbSizeBytes: budget,
    fullRoomBytes: 16 * 1024,
    now: () => now,
  });
  const states: string[] = [];
  let minute = T0 / MINUTE;
  for (let i = 0; i < 1000 && scheduler.budget().state !== 'full'; i++) {
    try {
      store.transaction(() => {
        for (const ns of ['agg@1', 'agg@2']) store.kvPut(ns, minuteKey(minute, 'r'), Buffer.alloc(700, 1));
      });
    } catch {
      // disk_full: the budget refused it; the pass below says full.
    }
    minute++;
    await scheduler.runOnce();
    if (states[states.length - 1] !== scheduler.budget().state) states.push(scheduler.budget().state);
  }
  expect(states).toEqual(['ok', 'near', 'full']);
  expect(scheduler.budget().usedBytes).toBeLessThanOrEqual(budget);

  now = minute * MINUTE;
  const report = await scheduler.runOnce();
  expect(report.budget.state).toBe('ok');
  // Both versions' namespaces were pruned down to the last 10 minutes.
  expect(store.kvList('agg@1', Buffer.from('m'), undefined, 1000)).toHaveLength(10);
  expect(store.kvList('agg@2', Buffer.from('m'), undefined, 1000)).toHaveLength(10);
  expect(report.reclaimedPages).toBeGreaterThan(0);
});

it('start runs a pass at once and then every interval; stop ends them', async () => {
  const store = open();
  let passes = 0;
  const scheduler = new RetentionScheduler({
    store,
    modules: () => [],
    policy: { eventsMs: 0, keepMs: { minute: 0, hour: 0 } },
    intervalMs: 20,
    onPass: () => passes++,
  });
  scheduler.start();
  await until(() => passes >= 3, { message: 'fewer than 3 passes' });
  await scheduler.stop();
  const stopped = passes;
  await new Promise((r) => setTimeout(r, 100));
  expect(passes).toBe(stopped);
  expect(scheduler.budget().state).toBe('none');
});

it('turns manifest rules into prune rules with the policy times', () => {
  expect(pruneRules([...RULES, { prefix: 'h', unit_ms: 60 * MINUTE, keep: 'hour' }], { eventsMs: 1, keepMs: { minute: 5, hour: 7 } })).toEqual([
    { prefix: Buffer.from('m'), unitMs: MINUTE, keepMs: 5 },
    { prefix: Buffer.from('h'), unitMs: 60 * MINUTE, keepMs: 7 },
  ]);
  expect(pruneRules(undefined, { eventsMs: 1, keepMs: { minute: 5, hour: 7 } })).toEqual([]);
});
