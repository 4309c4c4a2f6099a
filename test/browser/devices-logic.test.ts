/**
 * The devices panel's rows without a DOM (web/devices-view.js), run in Node: the filter, the silent mark
 * and the quietest-first order.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceView as Device } from '../../src/apps/index.js';

type Row = Device & { silent: boolean };

const { deviceRows, DEFAULT_SILENT_MINUTES, SILENT_CHOICES } = (await import(new URL('../../web/devices-view.js', import.meta.url).href)) as {
  deviceRows: (devices: Device[], options: { query?: string; silentMs: number; onlySilent?: boolean; now?: number }) => Row[];
  DEFAULT_SILENT_MINUTES: number;
  SILENT_CHOICES: number[];
};

const NOW = 1_000_000_000;
const device = (id: string, region: string, agoMs: number): Device => ({ device_id: id, region, last_reading_ms: NOW - agoMs, last_received_ms: null, readings: 0 });
const devices = [device('b-fresh', 'north', 1_000), device('a-quiet', 'South.Lab', 20 * 60_000), device('c-edge', 'north', 15 * 60_000), device('d-fresh', 'south', 1_000)];

describe('deviceRows', () => {
  it('orders quietest first (ties by id) and marks silent only past the threshold', () => {
    const rows = deviceRows(devices, { silentMs: 15 * 60_000, now: NOW });
    expect(rows.map((r) => [r.device_id, r.silent])).toEqual([
      ['a-quiet', true],
      ['c-edge', false],
      ['b-fresh', false],
      ['d-fresh', false],
    ]);
  });

  it('filters by words in the id or the region, case-insensitively; only silent ones when asked', () => {
    expect(deviceRows(devices, { query: 'SOUTH', silentMs: 60_000, now: NOW }).map((r) => r.device_id)).toEqual(['a-quiet', 'd-fresh']);
    expect(deviceRows(devices, { query: 'north edge', silentMs: 60_000, now: NOW }).map((r) => r.device_id)).toEqual(['c-edge']);
    expect(deviceRows(devices, { silentMs: 60_000, onlySilent: true, now: NOW }).map((r) => r.device_id)).toEqual(['a-quiet', 'c-edge']);
  });

  it('offers 15 minutes by default among its choices', () => {
    expect(DEFAULT_SILENT_MINUTES).toBe(15);
    expect(SILENT_CHOICES).toContain(15);
  });
});
