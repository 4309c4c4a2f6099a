/**
 * What the simulator sent and what the node answered: the live counters, and per region the
 * distinct valid readings the node acknowledged (the expected aggregates of the final check).
 */
import { LABEL, type SimReading } from './device.js';

export interface SimulatorStats {
  elapsedMs: number;
  /** Readings made, valid and malformed, backfill included. */
  generated: number;
  /** Readings posted at least once. */
  sent: number;
  /** Answers, per item: a reading answered twice (a resend) counts twice. */
  accepted: number;
  duplicates: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  /** POST attempts. */
  requests: number;
  /** Attempts that failed: network, timeout, 5xx, or a request refused as a whole (4xx). */
  errors: number;
  errorsByKind: Record<string, number>;
  /** Attempts after a failure or a lost answer. */
  retries: number;
  /** Answers thrown away on purpose (the `retryShare` fault), each followed by a resend. */
  lostAnswers: number;
  /** Readings made but not yet answered: in the sensors (offline, late, held) or in a batch. */
  queued: number;
  inFlight: number;
  devices: number;
  offline: number;
  /** Faults injected. */
  faults: { malformed: number; outOfOrder: number; late: number; backlog: number; bursts: number; offlinePeriods: number; backfill: number };
  /** What the node's answers show about them. */
  observed: {
    /** Malformed readings rejected with the code docs/api.md gives for them. */
    malformedRejected: number;
    /** Malformed readings rejected with another code. */
    malformedOtherCode: number;
    /** Malformed readings the node accepted (must stay 0). */
    malformedAccepted: number;
    /** Readings accepted after the node had accepted a newer reading of the same device. */
    outOfOrderAccepted: number;
    /** Late and backlog readings accepted. */
    lateAccepted: number;
    /** Longest time from a live reading's timestamp to its acceptance, ms. */
    maxLatenessMs: number;
    /** Valid readings the node refused, by code (e.g. `too_late` with a short grace period). */
    validRejected: Record<string, number>;
  };
  /** Readings posted whose fate is unknown: no answer came before the run gave up on them. */
  inDoubt: number;
  /** Readings never posted: refused requests (4xx), or still queued when the run gave up. */
  unsent: number;
}

/** The distinct valid readings of a region the node acknowledged. */
export interface RegionTotals {
  count: number;
  /** Σ temperature in micro-degrees, exact (the node sums the same way: docs/api.md). */
  micro: number;
  min: number;
  max: number;
}

export class Ledger {
  readonly stats: SimulatorStats;
  readonly regions = new Map<string, RegionTotals>();

  constructor(
    devices: number,
    /** Keep per-region totals (only needed for the final check). */
    private readonly keepTotals: boolean,
  ) {
    this.stats = {
      elapsedMs: 0,
      generated: 0,
      sent: 0,
      accepted: 0,
      duplicates: 0,
      rejected: 0,
      rejectedByCode: {},
      requests: 0,
      errors: 0,
      errorsByKind: {},
      retries: 0,
      lostAnswers: 0,
      queued: 0,
      inFlight: 0,
      devices,
      offline: 0,
      faults: { malformed: 0, outOfOrder: 0, late: 0, backlog: 0, bursts: 0, offlinePeriods: 0, backfill: 0 },
      observed: { malformedRejected: 0, malformedOtherCode: 0, malformedAccepted: 0, outOfOrderAccepted: 0, lateAccepted: 0, maxLatenessMs: 0, validRejected: {} },
      inDoubt: 0,
      unsent: 0,
    };
  }

  generated(reading: SimReading): void {
    this.stats.generated++;
    if (reading.expectedCode !== undefined) this.stats.faults.malformed++;
    if (reading.labels & LABEL.BACKFILL) this.stats.faults.backfill++;
  }

  posted(readings: readonly SimReading[]): void {
    for (const r of readings) {
      if (r.sent) continue;
      r.sent = true;
      this.stats.sent++;
      // Labels are final once a reading leaves the device.
      if (r.labels & LABEL.OUT_OF_ORDER) this.stats.faults.outOfOrder++;
      if (r.labels & LABEL.LATE) this.stats.faults.late++;
      if (r.labels & LABEL.BACKLOG) this.stats.faults.backlog++;
    }
  }

  attemptFailed(kind: string): void {
    this.stats.errors++;
    this.stats.errorsByKind[kind] = (this.stats.errorsByKind[kind] ?? 0) + 1;
  }

  /** One item's answer. */
  answer(reading: SimReading, status: string, code: string | undefined, now: number): void {
    const s = this.stats;
    if (status === 'accepted' || status === 'duplicate') {
      if (status === 'accepted') s.accepted++;
      else s.duplicates++;
      if (reading.expectedCode !== undefined) {
        s.observed.malformedAccepted++;
        return;
      }
      const device = reading.device;
      if (status === 'accepted') {
        if (reading.timestamp < device.maxAcceptedTimestamp) s.observed.outOfOrderAccepted++;
        device.maxAcceptedTimestamp = Math.max(device.maxAcceptedTimestamp, reading.timestamp);
      }
      if (reading.acknowledged) return;
      reading.acknowledged = true;
      if (reading.labels & (LABEL.LATE | LABEL.BACKLOG)) s.observed.lateAccepted++;
      if (!(reading.labels & LABEL.BACKFILL)) s.observed.maxLatenessMs = Math.max(s.observed.maxLatenessMs, now - reading.timestamp);
      if (this.keepTotals) this.count(reading);
      return;
    }
    s.rejected++;
    const c = code ?? 'unknown';
    s.rejectedByCode[c] = (s.rejectedByCode[c] ?? 0) + 1;
    if (reading.expectedCode === undefined) s.observed.validRejected[c] = (s.observed.validRejected[c] ?? 0) + 1;
    else if (reading.expectedCode === c) s.observed.malformedRejected++;
    else s.observed.malformedOtherCode++;
  }

  /** The request holding these readings was refused as a whole: nothing of it was stored. */
  refused(readings: readonly SimReading[]): void {
    this.stats.unsent += readings.length;
  }

  /** No answer came for these readings before the run gave up on them. */
  abandoned(readings: readonly SimReading[]): void {
    for (const r of readings) {
      if (r.acknowledged) continue;
      if (r.sent) this.stats.inDoubt++;
      else this.stats.unsent++;
    }
  }

  private count(reading: SimReading): void {
    const region = reading.device.region;
    const t = this.regions.get(region);
    const micro = Math.round(reading.temperature * 1e6);
    if (!t) {
      this.regions.set(region, { count: 1, micro, min: reading.temperature, max: reading.temperature });
      return;
    }
    t.count++;
    t.micro += micro;
    if (reading.temperature < t.min) t.min = reading.temperature;
    if (reading.temperature > t.max) t.max = reading.temperature;
  }
}
