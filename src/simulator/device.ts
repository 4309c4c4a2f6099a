/**
 * A simulated sensor: it measures on the fleet's schedule and delivers its readings the way real
 * sensors do, sometimes late, sometimes out of order, sometimes after an offline spell, sometimes
 * garbled.
 */
import { temperatureAt, type Climate } from './climate.js';
import type { FaultOptions } from './options.js';
import { Random, seedOf } from './random.js';

/** Why a reading took the path it took (bit flags, for the summary's fault counts). */
export const LABEL = {
  LATE: 1,
  BACKLOG: 2,
  OUT_OF_ORDER: 4,
  BURST: 8,
  BACKFILL: 16,
} as const;

export interface SimReading {
  /** The JSON item sent to the node. */
  readonly item: Record<string, unknown>;
  readonly device: SimDevice;
  readonly timestamp: number;
  readonly temperature: number;
  /** Undefined for a valid reading; for a malformed one, the code the node must answer. */
  readonly expectedCode: string | undefined;
  labels: number;
  /** Posted at least once. */
  sent: boolean;
  /** The node answered `accepted` or `duplicate` (it is counted once, whatever the number of answers). */
  acknowledged: boolean;
}

interface Malformation {
  code: string;
  /** Only makes sense when each sensor has its own device token. */
  deviceTokensOnly?: boolean;
  garble: (item: Record<string, unknown>, device: SimDevice) => Record<string, unknown>;
}

const DAY = 86_400_000;

/** The malformed readings real fleets send, each with the code docs/api.md says it gets. */
const MALFORMATIONS: readonly Malformation[] = [
  { code: 'missing_field', garble: ({ temperature_c: _t, ...rest }) => rest },
  { code: 'unknown_field', garble: (item) => ({ ...item, humidity: 41 }) },
  { code: 'invalid_type', garble: (item) => ({ ...item, temperature_c: String(item.temperature_c) }) },
  // A sensor glitch: a reading far outside what the probe can measure.
  { code: 'out_of_range', garble: (item) => ({ ...item, temperature_c: 1500 }) },
  { code: 'invalid_format', garble: (item) => ({ ...item, timestamp: (item.timestamp as number) + 0.5 }) },
  // A sensor whose clock was never set right.
  { code: 'timestamp_in_future', garble: (item) => ({ ...item, timestamp: (item.timestamp as number) + DAY }) },
  { code: 'device_mismatch', deviceTokensOnly: true, garble: (item, device) => ({ ...item, device_id: device.neighbourId }) },
];

/** Out-of-order readings held back longer than this are delivered anyway. */
const HOLD_MAX_MS = 2_000;

export class SimDevice {
  readonly random: Random;
  /** A fixed offset of this sensor's readings (its placement: shade, sun, a warm wall), °C. */
  readonly bias: number;
  online = true;
  offlineUntil = 0;
  /** Greatest timestamp the node has accepted from this device (to observe out-of-order acceptance). */
  maxAcceptedTimestamp = -Infinity;
  private lastTimestamp = 0;
  private held: { reading: SimReading; at: number } | undefined;
  private late: Array<{ reading: SimReading; at: number }> = [];
  private backlog: SimReading[] = [];
  private readonly malformations: readonly Malformation[];

  constructor(
    readonly index: number,
    readonly id: string,
    /** Another device's id, for `device_mismatch` readings. */
    readonly neighbourId: string,
    readonly region: string,
    private readonly climate: Climate,
    private readonly seed: number,
    private readonly faults: FaultOptions,
    deviceTokens: boolean,
    /** Where a delivered reading goes: the sender's queue. */
    private readonly deliver: (reading: SimReading) => void,
  ) {
    this.random = new Random(seedOf(seed, 'device', id));
    this.bias = Math.round(this.random.normal() * 0.8 * 100) / 100;
    this.malformations = MALFORMATIONS.filter((m) => deviceTokens || !m.deviceTokensOnly);
  }

  /** Readings held in the device: offline backlog, late ones, one held out of order. */
  get pending(): number {
    return this.backlog.length + this.late.length + (this.held ? 1 : 0);
  }

  /** Takes a reading now and sends it on its way (possibly late, out of order, or into the backlog). */
  measure(now: number, labels = 0): SimReading {
    const timestamp = Math.max(now, this.lastTimestamp + 1);
    this.lastTimestamp = timestamp;
    const reading = this.reading(timestamp, labels);
    if (reading.expectedCode === undefined && this.random.chance(this.faults.lateShare)) {
      reading.labels |= LABEL.LATE;
      this.late.push({ reading, at: now + this.random.between(0.2, 1) * this.faults.lateMaxMs });
    } else {
      this.order(reading, now);
    }
    return reading;
  }

  /** A reading from before the run, for backfill: always valid, delivered in order. */
  historic(timestamp: number): SimReading {
    const reading = this.reading(timestamp, LABEL.BACKFILL);
    this.release(reading);
    return reading;
  }

  /** The grid of backfill timestamps in [from, to): the same for the same seed, so a rerun sends duplicates. */
  historyTimestamps(from: number, to: number, intervalMs: number): number[] {
    const phase = seedOf(this.seed, this.id, 'phase') % intervalMs;
    const out: number[] = [];
    for (let t = Math.ceil((from - phase) / intervalMs) * intervalMs + phase; t < to; t += intervalMs) out.push(t);
    return out;
  }

  goOffline(until: number): void {
    this.online = false;
    this.offlineUntil = until;
  }

  /** Delivers what is due: late readings whose time has come, a reading held too long, the backlog of a sensor back online. */
  tick(now: number): void {
    if (!this.online && now >= this.offlineUntil) this.comeBack();
    if (this.late.length > 0) {
      const due = this.late.filter((l) => l.at <= now);
      if (due.length > 0) {
        this.late = this.late.filter((l) => l.at > now);
        for (const l of due) this.release(l.reading);
      }
    }
    if (this.held && now - this.held.at >= HOLD_MAX_MS) {
      const { reading } = this.held;
      this.held = undefined;
      this.release(reading);
    }
  }

  /** Delivers everything at once (the run is ending). */
  flush(): void {
    const late = this.late;
    this.late = [];
    if (this.held) late.push(this.held);
    this.held = undefined;
    this.comeBack();
    for (const l of late) this.release(l.reading);
  }

  private reading(timestamp: number, labels: number): SimReading {
    const temperature = temperatureAt(this.climate, this.bias, this.seed, this.id, timestamp);
    let item: Record<string, unknown> = { device_id: this.id, region: this.region, temperature_c: temperature, timestamp };
    let expectedCode: string | undefined;
    if (!(labels & LABEL.BACKFILL) && this.random.chance(this.faults.malformedShare)) {
      const m = this.random.pick(this.malformations);
      item = m.garble(item, this);
      expectedCode = m.code;
    }
    return { item, device: this, timestamp, temperature, expectedCode, labels, sent: false, acknowledged: false };
  }

  /** Out-of-order delivery: a reading is held back and sent after the next one. */
  private order(reading: SimReading, now: number): void {
    if (this.held) {
      const held = this.held.reading;
      this.held = undefined;
      this.release(reading);
      this.release(held);
      return;
    }
    if (reading.expectedCode === undefined && this.random.chance(this.faults.outOfOrderShare)) {
      reading.labels |= LABEL.OUT_OF_ORDER;
      this.held = { reading, at: now };
      return;
    }
    this.release(reading);
  }

  private release(reading: SimReading): void {
    if (this.online) {
      this.deliver(reading);
    } else {
      reading.labels |= LABEL.BACKLOG;
      this.backlog.push(reading);
    }
  }

  private comeBack(): void {
    this.online = true;
    const backlog = this.backlog;
    this.backlog = [];
    for (const r of backlog) this.deliver(r);
  }
}
