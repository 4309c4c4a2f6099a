/**
 * A long life at a constant rate, with a controllable clock: 60 simulated days of readings through the real
 * write path (the aggregator guest, a SqliteStore, the ingest pipeline) with retention passes every
 * simulated hour. Once every kind of data has reached its retention time the database stops growing (over its
 * last 30 days, the data and the file each stay within 5 % of their smallest size), the aggregates of the retained windows are exact, totals are kept forever (a region that stopped reporting leaves the listing), and
 * `edgeagg db check` finds the aggregates equal to the fold of the retained events.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { checkDatabase } from '../../src/cli/db-check.js';
import { IngestPipeline } from '../../src/ingest/index.js';
import { RetentionScheduler, type RetentionPolicy } from '../../src/node/maintenance.js';
import type { GuestStore, RetentionRule } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT, loadTestGuest } from '../helpers/guests.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DAYS = 60;
const REGIONS = ['north', 'south', 'east'];
/** A region that reports only on the first two days: after its retention it leaves the listing. */
const RETIRED = 'retired';
/** One reading per region every this long. */
const STEP = 2 * MINUTE;
const START = Date.UTC(2030, 0, 1);
const POLICY: RetentionPolicy = { eventsMs: 2 * DAY, keepMs: { minute: 5 * DAY, hour: 20 * DAY } };
const GRACE = DAY;
/** What the node passes as `listed_for_ms`: the longest bucket retention. */
const LISTED_FOR = POLICY.keepMs.hour;
const RULES = (JSON.parse(readFileSync(`${ROOT}guests/aggregator/guest.json`, 'utf8')) as { retention: RetentionRule[] }).retention;

function temperature(t: number, region: number): number {
  return ((t / STEP + region * 7) % 400) / 10 - 5;
}

it('60 simulated days at a constant rate: the database stays flat and retained windows are exact', async () => {
  let now = START;
  const store = SqliteStore.open({ path: join(tempDir('steady'), 'edgeagg.db'), synchronous: 'normal' });
  defer(() => store.close());
  const guest = (on: GuestStore) => loadTestGuest('aggregator', { store: on, now: () => now, config: { grace_period_ms: String(GRACE), listed_for_ms: String(LISTED_FOR) }, retention: RULES });
  const module = await guest(store);
  const pipeline = new IngestPipeline({ store, module, journal: store.foldJournal(module.name), foldDelayMs: 0 });
  const scheduler = new RetentionScheduler({
    store,
    modules: () => [module],
    policy: POLICY,
    intervalMs: 0,
    rowsPerTransaction: 200,
    now: () => now,
  });
  const get = (path: string, query = '') => {
    const res = pipeline.read(() => module.invokeHttp({ method: 'GET', path, query, contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) }));
    return { status: res.status, json: JSON.parse(Buffer.from(res.body).toString('utf8')) as { count: number; regions?: Array<{ region: string }> } };
  };

  const used: number[] = [];
  const files: number[] = [];
  let sent = 0;
  for (let t = START; t < START + DAYS * DAY; t += HOUR) {
    // An hour of readings, posted a few minutes after the hour they belong to.
    const readings = [];
    for (let s = t; s < t + HOUR; s += STEP) {
      for (const [i, region] of REGIONS.entries()) readings.push({ device_id: `dev-${i}`, region, temperature_c: temperature(s, i), timestamp: s + i });
      if (t < START + 2 * DAY) readings.push({ device_id: 'dev-retired', region: RETIRED, temperature_c: 1, timestamp: s + 9 });
    }
    now = t + HOUR + 5 * MINUTE;
    const res = await pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(JSON.stringify(readings)) });
    expect(res.status).toBe(200);
    sent += readings.length - (t < START + 2 * DAY ? HOUR / STEP : 0);
    await scheduler.runOnce();
    if ((t - START) % DAY === 23 * HOUR) {
      const usage = store.retention().usage();
      used.push(usage.usedBytes);
      files.push(usage.sizeBytes);
    }
  }
  await pipeline.drain();

  // Flat once the longest retention (20 days of hour buckets) applies: the last 30 days within 5 %.
  const settled = used.slice(30);
  expect(Math.max(...settled)).toBeLessThanOrEqual(Math.min(...settled) * 1.05);
  expect(Math.max(...files.slice(30))).toBeLessThanOrEqual(Math.min(...files.slice(30)) * 1.05);
  // Without retention it would keep growing with the days (several times the settled size by day 60).
  expect(used[59]!).toBeLessThan(used[10]! * 2);
  expect(store.countEvents(module.name)).toBeLessThanOrEqual(((POLICY.eventsMs + 2 * HOUR) / STEP) * REGIONS.length);

  const perRegion = (from: number, to: number) => Math.ceil((to - START) / STEP) - Math.ceil((from - START) / STEP);
  const end = START + DAYS * DAY;
  for (const region of REGIONS) {
    // Totals forever.
    expect(get(`/v1/regions/${region}`).json.count).toBe(sent / REGIONS.length);
    // Minute buckets of the last 4 days, hour buckets 10 to 15 days back: exact.
    const recent = { from: end - 4 * DAY + 7 * MINUTE, to: end - 13 * MINUTE };
    expect(get(`/v1/regions/${region}`, `from=${recent.from}&to=${recent.to}`).json.count).toBe(perRegion(Math.floor(recent.from / MINUTE) * MINUTE, Math.ceil(recent.to / MINUTE) * MINUTE));
    const older = { from: end - 15 * DAY, to: end - 10 * DAY };
    expect(get(`/v1/regions/${region}`, `from=${older.from}&to=${older.to}`).json.count).toBe(perRegion(older.from, older.to));
    // Past every bucket's retention only the total remains.
    expect(get(`/v1/regions/${region}`, `from=${START}&to=${START + 10 * DAY}`).json.count).toBe(0);
  }
  // A region with no retained buckets leaves the listing; its total is still read by name.
  expect(get('/v1/regions').json.regions?.map((r) => r.region).sort()).toEqual([...REGIONS].sort());
  expect(get(`/v1/regions/${RETIRED}`).json.count).toBe(2 * DAY / STEP);

  const check = await checkDatabase({ store, module, load: guest });
  expect(check.problems).toEqual([]);
  expect(check.comparedRecords).toBeGreaterThan(0);
}, 120_000);
