/**
 * Issue 14, "a view of devices": `GET /v1/devices` against a real node process over real HTTP: pages
 * newest first, silent sensors oldest first, the region filter, precise 400s, and a restart that learns
 * the devices again from the event log (with `max-devices-tracked` keeping the most recently seen).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceView as Device } from '../../src/apps/index.js';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually } from '../helpers/poll.js';

const MINUTE = 60_000;
const now = Date.now();


interface Page {
  devices: Device[];
  next_cursor: string | null;
  tracked: number;
  capped: boolean;
  seeding: boolean;
}

/** Twelve devices: eight that reported in the last minutes, four silent for 20 minutes to 2 hours. */
const LIVE = Array.from({ length: 8 }, (_, i) => ({ id: `live-${i}`, region: i % 2 ? 'north' : 'south', t: now - (i + 1) * 10_000 }));
const SILENT = [
  { id: 'silent-a', region: 'north', t: now - 20 * MINUTE },
  { id: 'silent-b', region: 'south', t: now - 45 * MINUTE },
  { id: 'silent-c', region: 'north', t: now - 90 * MINUTE },
  { id: 'silent-d', region: 'south', t: now - 120 * MINUTE },
];
const ALL = [...LIVE, ...SILENT];

async function get(node: NodeProcess, token: string, query: string): Promise<{ status: number; body: Page & { error?: { code: string; message: string } } }> {
  const res = await node.fetch(`/v1/devices${query ? `?${query}` : ''}`, { token });
  return { status: res.status, body: (await res.json()) as never };
}

/** Every page of `query` with `limit`, following next_cursor; at most `maxPages` requests. */
async function pages(node: NodeProcess, token: string, query: string, limit: number, maxPages: number): Promise<{ devices: Device[]; pages: number }> {
  const devices: Device[] = [];
  let cursor: string | null = null;
  let count = 0;
  do {
    const q: string = [query, `limit=${limit}`, cursor === null ? '' : `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join('&');
    const { status, body } = await get(node, token, q);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.devices.length).toBeLessThanOrEqual(limit);
    devices.push(...body.devices);
    cursor = body.next_cursor;
    count++;
  } while (cursor !== null && count < maxPages);
  expect(cursor, 'more pages than expected').toBeNull();
  return { devices, pages: count };
}

describe('GET /v1/devices', () => {
  let node: NodeProcess;
  let reader: string;

  beforeAll(async () => {
    node = await NodeProcess.start();
    const gateway = await node.token('gateway');
    reader = await node.token('read');
    // live-0 sends twice (its second reading is older: last seen stays the newest), in two requests.
    const first = await node.postReadings([...ALL.map((d) => ({ device_id: d.id, region: d.region, temperature_c: 20, timestamp: d.t }))], gateway);
    expect(first.status).toBe(200);
    const second = await node.postReadings({ device_id: 'live-0', region: 'north', temperature_c: 21, timestamp: now - 30 * MINUTE }, gateway);
    expect(second.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  it('pages every device, newest reading first, with its region and readings since start', async () => {
    const { devices, pages: count } = await pages(node, reader, '', 5, 4);
    expect(count).toBe(3);
    const want = [...ALL].sort((a, b) => b.t - a.t).map((d) => d.id);
    expect(devices.map((d) => d.device_id)).toEqual(want);
    const live0 = devices.find((d) => d.device_id === 'live-0')!;
    expect(live0).toMatchObject({ region: 'south', last_reading_ms: LIVE[0]!.t, readings: 2 });
    expect(live0.last_received_ms).toBeGreaterThanOrEqual(now);
    expect(devices.find((d) => d.device_id === 'silent-d')).toMatchObject({ region: 'south', last_reading_ms: SILENT[3]!.t, readings: 1 });
  });

  it('lists silent sensors oldest first, and filters by region', async () => {
    const silent = await pages(node, reader, `silent_for_ms=${15 * MINUTE}`, 3, 3);
    expect(silent.devices.map((d) => d.device_id)).toEqual(['silent-d', 'silent-c', 'silent-b', 'silent-a']);
    const north = await pages(node, reader, `silent_for_ms=${15 * MINUTE}&region=north`, 10, 1);
    expect(north.devices.map((d) => d.device_id)).toEqual(['silent-c', 'silent-a']);
    const south = await pages(node, reader, 'region=south', 100, 1);
    expect(south.devices.map((d) => d.device_id)).toEqual(['live-0', 'live-2', 'live-4', 'live-6', 'silent-b', 'silent-d']);
    const { body } = await get(node, reader, '');
    expect(body).toMatchObject({ tracked: 12, capped: false, seeding: false });
  });

  it('answers a bad query with a precise 400, and needs a read token', async () => {
    for (const [query, code, words] of [
      ['limit=0', 'invalid_query', 'limit'],
      ['limit=2000', 'invalid_query', 'limit'],
      ['silent_for_ms=15m', 'invalid_query', 'silent_for_ms'],
      ['region=', 'invalid_query', 'region'],
      ['limit=1&limit=2', 'invalid_query', 'more than once'],
      ['cursor=bm90LWEtY3Vyc29y', 'invalid_cursor', 'cursor'],
    ] as const) {
      const { status, body } = await get(node, reader, query);
      expect(status, query).toBe(400);
      expect(body.error?.code, query).toBe(code);
      expect(body.error?.message, query).toContain(words);
    }
    // A cursor of the newest-first order is refused with silent_for_ms (oldest first).
    const first = await get(node, reader, 'limit=1');
    const mixed = await get(node, reader, `silent_for_ms=0&cursor=${first.body.next_cursor}`);
    expect(mixed.status).toBe(400);
    expect(mixed.body.error?.code).toBe('invalid_cursor');
    expect((await node.fetch('/v1/devices')).status).toBe(401);
    expect((await node.fetch('/v1/devices', { token: await node.token('device', 'live-1') })).status).toBe(403);
  });

  it('after a restart it knows the devices again from the event log; max-devices-tracked keeps the most recently seen', async () => {
    await node.stop();
    const dataDir = node.dataDir;
    node = await NodeProcess.start({ dataDir, flags: { 'max-devices-tracked': '5' } });
    try {
      const seeded = await eventually(
        async () => {
          const { status, body } = await get(node, reader, 'limit=100');
          return status === 200 && !body.seeding ? body : undefined;
        },
        { message: 'the seed from the event log to end' },
      );
      expect(seeded.capped).toBe(true);
      expect(seeded.tracked).toBe(5);
      expect(seeded.devices.map((d) => d.device_id)).toEqual(LIVE.slice(0, 5).map((d) => d.id));
      // Known from the log only: not received since this start.
      expect(seeded.devices[0]).toEqual({ device_id: 'live-0', region: 'south', last_reading_ms: LIVE[0]!.t, last_received_ms: null, readings: 0 });
    } finally {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
