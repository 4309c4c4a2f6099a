/**
 * Pruning never fails an ingest running at the same time: the real write path (aggregator guest, SqliteStore,
 * ingest pipeline with a deferred fold) takes requests while a retention pass deletes a month of old data
 * in small transactions on the same connection. Every request is acknowledged, requests complete while the
 * pass is still running (it yields between transactions), and every acknowledged reading is counted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/index.js';
import { RetentionScheduler } from '../../src/node/maintenance.js';
import type { RetentionRule } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT, loadTestGuest } from '../helpers/guests.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const START = Date.UTC(2030, 0, 1);
const RULES = (JSON.parse(readFileSync(`${ROOT}guests/aggregator/guest.json`, 'utf8')) as { retention: RetentionRule[] }).retention;

it('every request during a pruning pass is acknowledged and counted', async () => {
  let now = START;
  const store = SqliteStore.open({ path: join(tempDir('prune-ingest'), 'edgeagg.db'), synchronous: 'normal' });
  defer(() => store.close());
  const module = await loadTestGuest('aggregator', { store, now: () => now, retention: RULES });
  const pipeline = new IngestPipeline({ store, module, journal: store.foldJournal(module.name), foldDelayMs: 20 });
  const post = async (readings: unknown[]) =>
    (await pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(JSON.stringify(readings)) })).status;

  // Old data: 10,000 readings spread over the 6 days before START.
  for (let b = 0; b < 100; b++) {
    const readings = Array.from({ length: 100 }, (_, i) => ({ device_id: `old-${i}`, region: `r${i % 4}`, temperature_c: i / 10, timestamp: START - 6 * DAY + (b * 100 + i) * 50_000 }));
    expect(await post(readings)).toBe(200);
  }
  await pipeline.drain();
  now = START + 60 * DAY;
  const scheduler = new RetentionScheduler({
    store,
    modules: () => [module],
    policy: { eventsMs: 8 * DAY, keepMs: { minute: 30 * DAY, hour: 45 * DAY } },
    intervalMs: 0,
    rowsPerTransaction: 50,
    now: () => now,
  });

  let passDone = false;
  let duringPass = 0;
  const pass = scheduler.runOnce().then((report) => {
    passDone = true;
    return report;
  });
  const statuses: number[] = [];
  for (let r = 0; r < 200; r++) {
    const readings = Array.from({ length: 10 }, (_, i) => ({ device_id: `new-${i}`, region: `r${i % 4}`, temperature_c: 20, timestamp: now - 10 * MINUTE + r * 10 + i }));
    statuses.push(await post(readings));
    if (!passDone) duringPass++;
  }
  const report = await pass;
  await pipeline.drain();

  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  expect(report.transactions).toBeGreaterThan(100);
  expect(duringPass).toBeGreaterThan(0);
  expect(report.eventRows).toBeGreaterThanOrEqual(10_000);
  expect(store.countEvents(module.name)).toBe(2_000);
  const res = pipeline.read(() => module.invokeHttp({ method: 'GET', path: '/v1/regions', query: '', contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) }));
  const regions = (JSON.parse(Buffer.from(res.body).toString('utf8')) as { regions: Array<{ count: number }> }).regions;
  expect(regions.reduce((sum, r) => sum + r.count, 0)).toBe(12_000);
  expect(store.integrityCheck()).toBe('ok');
});
