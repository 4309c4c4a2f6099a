/**
 * The device directory behind `GET /v1/devices` (issue 14): last seen is the newest reading per device
 * whatever order events come in, the cap keeps the most recently seen devices, pages and their cursors,
 * the silent and region filters, the seed from the log, and the query's 400s.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceDirectory, decodeCursor, encodeCursor, parseDeviceQuery, type DevicePage, type DeviceQuery } from '../../src/apps/aggregator/device-directory.js';
import type { StoredEvent } from '../../src/runtime/index.js';

const payload = new Uint8Array(8);

function event(source: string, timeMs: number, partition = 'lab'): StoredEvent {
  return { source, timeMs, partition, payload };
}

/** Every page of `query`, following next_cursor (at most `devices + 1` pages). */
function allPages(dir: DeviceDirectory, query: Omit<DeviceQuery, 'after'>): DevicePage['devices'] {
  const out: DevicePage['devices'] = [];
  let cursor: string | null = null;
  for (let i = 0; i <= dir.size + 1; i++) {
    const q = parseDeviceQuery(new URLSearchParams({ limit: String(query.limit), ...(cursor ? { cursor } : {}), ...(query.silentForMs !== undefined ? { silent_for_ms: String(query.silentForMs) } : {}), ...(query.region ? { region: query.region } : {}) }).toString());
    if ('error' in q) throw new Error(q.error.message);
    const page = dir.page(q);
    out.push(...page.devices);
    cursor = page.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('next_cursor never ended');
}

const eventArb = fc.record({
  source: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'sensor-é'),
  timeMs: fc.integer({ min: 0, max: 50 }),
  partition: fc.constantFrom('north', 'south'),
});

describe('DeviceDirectory', () => {
  it('last seen is the newest reading per device, with its region, whatever the order and batching', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), (raw, batch, fromLog) => {
        // One payload per identity, as the log holds: a (source, timeMs) is one event.
        const unique = [...new Map(raw.map((e) => [`${e.source}\0${e.timeMs}`, e])).values()].map((e) => event(e.source, e.timeMs, e.partition));
        const dir = new DeviceDirectory({ now: () => 1_000 });
        for (let i = 0; i < unique.length; i += batch) {
          const part = unique.slice(i, i + batch);
          if (fromLog) dir.seen(part);
          else dir.received(part);
        }
        const newest = new Map<string, StoredEvent>();
        const counts = new Map<string, number>();
        for (const e of unique) {
          const seen = newest.get(e.source);
          if (!seen || e.timeMs > seen.timeMs) newest.set(e.source, e);
          counts.set(e.source, (counts.get(e.source) ?? 0) + 1);
        }
        const listed = allPages(dir, { limit: 2 });
        expect(listed.map((d) => d.device_id).sort()).toEqual([...newest.keys()].sort());
        for (const d of listed) {
          const e = newest.get(d.device_id)!;
          expect(d.last_reading_ms).toBe(e.timeMs);
          expect(d.region).toBe(e.partition);
          expect(d.readings).toBe(fromLog ? 0 : counts.get(d.device_id));
          expect(d.last_received_ms).toBe(fromLog ? null : 1_000);
        }
        // Newest first, ties by device id descending: each page continues where the last ended.
        const keys = listed.map((d) => [d.last_reading_ms, d.device_id] as const);
        const sorted = [...keys].sort((x, y) => y[0] - x[0] || (y[1] < x[1] ? -1 : y[1] > x[1] ? 1 : 0));
        expect(keys).toEqual(sorted);
      }),
      { numRuns: 300 },
    );
  });

  it('past the cap it keeps the most recently seen devices, and says it is capped', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.integer({ min: 0, max: 40 }), t: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 120 }), fc.integer({ min: 1, max: 12 }), (raw, cap) => {
        const dir = new DeviceDirectory({ maxDevices: cap });
        for (const r of raw) dir.received([event(`d${r.id}`, r.t)]);
        const newest = new Map<string, number>();
        for (const r of raw) newest.set(`d${r.id}`, Math.max(newest.get(`d${r.id}`) ?? -1, r.t));
        const want = [...newest.entries()]
          .sort((x, y) => y[1] - x[1] || (y[0] < x[0] ? -1 : y[0] > x[0] ? 1 : 0))
          .slice(0, cap)
          .map(([id, t]) => ({ id, t }));
        const page = dir.page({ limit: 1000 });
        expect(page.devices.map((d) => ({ id: d.device_id, t: d.last_reading_ms }))).toEqual(want);
        expect(page.capped).toBe(newest.size > cap);
        expect(page.tracked).toBe(Math.min(cap, newest.size));
      }),
      { numRuns: 300 },
    );
  });

  it('silent_for_ms lists the devices with no reading for longer, oldest first; region filters', () => {
    const now = 10_000_000;
    const dir = new DeviceDirectory({ now: () => now });
    dir.received([event('fresh', now - 1_000, 'north'), event('quiet', now - 20 * 60_000, 'north'), event('gone', now - 3_600_000, 'south'), event('edge', now - 15 * 60_000, 'south')]);
    const silent = (q: string): string[] => {
      const parsed = parseDeviceQuery(q);
      if ('error' in parsed) throw new Error(parsed.error.message);
      return dir.page(parsed).devices.map((d) => d.device_id);
    };
    expect(silent('silent_for_ms=900000')).toEqual(['gone', 'quiet']);
    expect(silent('silent_for_ms=900000&region=north')).toEqual(['quiet']);
    expect(silent('silent_for_ms=0')).toEqual(['gone', 'quiet', 'edge', 'fresh']);
    expect(silent('')).toEqual(['fresh', 'edge', 'quiet', 'gone']);
    expect(silent('region=south')).toEqual(['edge', 'gone']);
    expect(silent('region=west')).toEqual([]);
  });

  it('seeds from the log a page at a time, and live events mix in whatever their order', async () => {
    const log = Array.from({ length: 2_500 }, (_, i) => event(`s${i % 300}`, 1_000 + i, i % 2 ? 'odd' : 'even'));
    const reads: number[] = [];
    const dir = new DeviceDirectory({ now: () => 99 });
    const seeding = dir.seed((after, limit) => {
      reads.push(limit);
      const start = after ? log.findIndex((e) => e.timeMs > after.timeMs) : 0;
      const events = log.slice(start, start + limit);
      const last = events[events.length - 1];
      return { events, next: start + limit < log.length && last ? { timeMs: last.timeMs, source: last.source } : undefined };
    });
    expect(dir.page({ limit: 1 }).seeding).toBe(true);
    // A live reading older than the log's newest for s7 does not move its last seen back.
    dir.received([event('s7', 5)]);
    await seeding;
    expect(reads.length).toBe(3);
    const page = dir.page({ limit: 1000 });
    expect(page.seeding).toBe(false);
    expect(page.tracked).toBe(300);
    const s7 = page.devices.find((d) => d.device_id === 's7')!;
    expect(s7).toEqual({ device_id: 's7', region: 'odd', last_reading_ms: 1_000 + 2_407, last_received_ms: 99, readings: 1 });
    expect(page.devices.find((d) => d.device_id === 's8')).toEqual({ device_id: 's8', region: 'even', last_reading_ms: 1_000 + 2_408, last_received_ms: null, readings: 0 });
  });

  it('a closed directory stops its seed', async () => {
    const dir = new DeviceDirectory();
    let reads = 0;
    const seeding = dir.seed(() => {
      reads++;
      return { events: [event('x', reads)], next: { timeMs: reads, source: 'x' } };
    });
    dir.close();
    await seeding;
    expect(reads).toBe(0);
  });
});

describe('GET /v1/devices query', () => {
  const bad: Array<[string, string]> = [
    ['limit=0', 'invalid_query'],
    ['limit=1001', 'invalid_query'],
    ['limit=1.5', 'invalid_query'],
    ['limit=', 'invalid_query'],
    ['limit=1&limit=2', 'invalid_query'],
    ['silent_for_ms=-1', 'invalid_query'],
    ['silent_for_ms=15m', 'invalid_query'],
    ['silent_for_ms=99999999999999999', 'invalid_query'],
    ['region=', 'invalid_query'],
    [`region=${'r'.repeat(65)}`, 'invalid_query'],
    ['region=a&region=b', 'invalid_query'],
    ['cursor=nope!', 'invalid_cursor'],
    [`cursor=${Buffer.from('x.1.a').toString('base64url')}`, 'invalid_cursor'],
    // A newest-first cursor with the silent (oldest-first) order.
    [`silent_for_ms=1&cursor=${encodeCursor({ order: 'newest', lastReadingMs: 1, deviceId: 'a' })}`, 'invalid_cursor'],
  ];
  it.each(bad)('%s is 400 %s', (query, code) => {
    const parsed = parseDeviceQuery(query);
    expect('error' in parsed && parsed.error.code).toBe(code);
  });

  it('takes the defaults, ignores other parameters, and reads its own cursors back', () => {
    expect(parseDeviceQuery('other=1')).toEqual({ limit: 100 });
    const cursor = { order: 'oldest', lastReadingMs: -5, deviceId: 'dev é/1.2' } as const;
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(parseDeviceQuery(`silent_for_ms=0&limit=7&region=north&cursor=${encodeCursor(cursor)}`)).toEqual({ silentForMs: 0, limit: 7, region: 'north', after: cursor });
  });
});
