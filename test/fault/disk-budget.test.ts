/**
 * The disk budget (`max-db-size`) on a real small filesystem (a tmpfs), through the node's write path (the
 * aggregator guest, a SqliteStore, the ingest pipeline) and its retention scheduler: writes are refused with
 * disk_full once the data reaches the budget, the budget says full, nothing of a refused request is kept,
 * and once pruning frees space (the readings age past their retention) writes are accepted again by
 * themselves, with every acknowledged reading still counted and the database intact. Then a real node:
 * `/readyz` and the metric say full, and both recover.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/index.js';
import { RetentionScheduler } from '../../src/node/maintenance.js';
import { StoreUnavailableError, type RetentionRule } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT, loadTestGuest } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BUDGET = 1024 * 1024;
const RULES = (JSON.parse(readFileSync(`${ROOT}guests/aggregator/guest.json`, 'utf8')) as { retention: RetentionRule[] }).retention;

it('refuses writes at the budget, recovers by itself when pruning frees space, loses no acknowledged reading', async () => {
  const mnt = tempDir('budget-tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch (error) {
    // A real small filesystem is the point of this test: no stand-in, and no silent skip.
    throw new Error('this test mounts a 4 MiB tmpfs and needs the permission to (run npm test as root, as CI does)', { cause: error });
  }
  defer(() => execFileSync('umount', [mnt]));
  let now = Date.UTC(2030, 0, 1);
  // A small WAL, as on a small device: the budget, not the WAL, is what fills first.
  const store = SqliteStore.open({ path: join(mnt, 'data', 'edgeagg.db'), synchronous: 'normal', walAutocheckpointPages: 256 });
  defer(() => store.close());
  const module = await loadTestGuest('aggregator', { store, now: () => now, retention: RULES });
  const pipeline = new IngestPipeline({ store, module, journal: store.foldJournal(module.name), foldDelayMs: 0 });
  const scheduler = new RetentionScheduler({
    store,
    modules: () => [module],
    policy: { eventsMs: HOUR, keepMs: { minute: 2 * HOUR, hour: 0 } },
    intervalMs: 0,
    maxDbSizeBytes: BUDGET,
    fullRoomBytes: 64 * 1024,
    now: () => now,
  });
  scheduler.start();
  defer(() => void scheduler.stop());

  let seq = 0;
  let acknowledged = 0;
  /** Posts 200 readings of the last minute: 200, or the store's error code. */
  const post = async (): Promise<number | string> => {
    const readings = Array.from({ length: 200 }, () => ({ device_id: `d-${seq % 50}`, region: `b${seq % 5}`, temperature_c: (seq % 300) / 10, timestamp: now - MINUTE + seq++ }));
    try {
      const res = await pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(JSON.stringify(readings)) });
      if (res.status === 200) acknowledged += readings.length;
      return res.status;
    } catch (error) {
      if (error instanceof StoreUnavailableError) return error.code;
      throw error;
    }
  };
  const total = () => {
    const res = pipeline.read(() => module.invokeHttp({ method: 'GET', path: '/v1/regions', query: '', contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) }));
    return (JSON.parse(Buffer.from(res.body).toString('utf8')) as { regions: Array<{ count: number }> }).regions.reduce((s, r) => s + r.count, 0);
  };

  let refused: number | string | undefined;
  for (let i = 0; i < 400 && refused === undefined; i++) {
    const r = await post();
    if (r !== 200) refused = r;
    now += 10_000;
    await scheduler.runOnce();
  }
  expect(refused).toBe('disk_full');
  await scheduler.runOnce();
  expect(scheduler.budget().state).toBe('full');
  expect(scheduler.budget().usedBytes).toBeLessThanOrEqual(BUDGET);
  expect(total()).toBe(acknowledged);

  // Still refused while nothing can be pruned...
  expect(await post()).toBe('disk_full');
  // ... accepted again once the oldest readings passed their retention and a pass pruned them.
  now += 2 * HOUR;
  await scheduler.runOnce();
  expect(scheduler.budget().state).not.toBe('full');
  expect(await post()).toBe(200);
  await pipeline.drain();
  expect(total()).toBe(acknowledged);
  expect(store.integrityCheck()).toBe('ok');
});

it('a real node: /readyz and the metric say when the budget is full, and recover by themselves', async () => {
  // Readings are pruned 5 s after their time: the budget fills, then empties again as they age.
  const node = await NodeProcess.start({
    flags: { 'max-db-size': String(512 * 1024), 'body-limit': String(64 * 1024), 'grace-period-ms': '5000', 'retention-events-margin-ms': '0', 'retention-interval-ms': '200', 'fold-delay-ms': '0', 'breaker-threshold': '1000' },
  });
  defer(() => node.cleanup());
  try {
    const [gateway, reader] = await Promise.all([node.token('gateway'), node.token('read')]);
    let seq = 0;
    let acknowledged = 0;
    const post = async (): Promise<{ status: number; code?: string }> => {
      const t = Date.now() - 500;
      const readings = Array.from({ length: 200 }, (_, i) => ({ device_id: `n-${seq++}`, region: `nb${i % 4}`, temperature_c: 20, timestamp: t }));
      const res = await node.postReadings(readings, gateway);
      const body = (await res.json()) as { accepted?: number; error?: { code: string } };
      if (res.status === 200) acknowledged += body.accepted ?? 0;
      return { status: res.status, code: body.error?.code };
    };
    let refused: { status: number; code?: string } | undefined;
    for (let i = 0; i < 300 && refused === undefined; i++) {
      const r = await post();
      if (r.status !== 200) refused = r;
    }
    expect(refused).toEqual({ status: 503, code: 'disk_full' });
    await until(async () => (await node.fetch('/readyz')).status === 503, { message: '/readyz never said the budget was full' });
    const ready = (await (await node.fetch('/readyz')).json()) as { disk_budget: { state: string; max_bytes: number } };
    expect(ready.disk_budget).toMatchObject({ state: 'full', max_bytes: 512 * 1024 });
    expect(await (await node.fetch('/metrics')).text()).toMatch(/edgeagg_db_budget_state\{state="full"[^}]*\} 1/);

    await until(async () => (await node.fetch('/readyz')).status === 200, { message: '/readyz still 503 after the readings aged past their retention', timeoutMs: 20_000 });
    expect(await (await node.fetch('/metrics')).text()).toMatch(/edgeagg_db_budget_state\{state="full"[^}]*\} 0/);
    expect((await post()).status).toBe(200);
    let counted = 0;
    for (let i = 0; i < 4; i++) counted += ((await (await node.fetch(`/v1/regions/nb${i}`, { token: reader })).json()) as { count: number }).count;
    expect(counted).toBe(acknowledged);
  } finally {
    await node.stop();
  }
});
