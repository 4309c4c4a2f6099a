/** The simulator's options, their defaults, and their validation. */
import type { SimulatorStats } from './ledger.js';

/** The faults real fleets have, each as the share of readings (or requests, or time) it affects. */
export interface FaultOptions {
  /**
   * Share of requests whose answer is lost: the sensor never hears back and sends the very same
   * batch again, so the node answers `duplicate` for what it had accepted. @default 0.02
   */
  retryShare: number;
  /** Share of readings delivered after a newer reading of the same sensor. @default 0.05 */
  outOfOrderShare: number;
  /** Share of readings held back and delivered late, by up to `lateMaxMs`. @default 0.02 */
  lateShare: number;
  /** Longest delay of a late reading, in milliseconds. @default 10000 */
  lateMaxMs: number;
  /** Share of the time the fleet spends in bursts of ten times the rate. @default 0.03 */
  burstShare: number;
  /** Length of a burst, in milliseconds. @default 1000 */
  burstMs: number;
  /**
   * Share of sensors offline at any moment. An offline sensor keeps measuring, and sends its
   * backlog when it comes back. @default 0.05
   */
  offlineShare: number;
  /** Mean length of an offline period, in milliseconds (each lasts from half to one and a half of it). @default 5000 */
  offlineMeanMs: number;
  /**
   * Share of readings that are malformed: a missing or unknown field, a wrong type, a temperature
   * out of range, a fractional or future timestamp, or (with device tokens) another device's id.
   * @default 0.01
   */
  malformedShare: number;
}

export const DEFAULT_FAULTS: Readonly<FaultOptions> = {
  retryShare: 0.02,
  outOfOrderShare: 0.05,
  lateShare: 0.02,
  lateMaxMs: 10_000,
  burstShare: 0.03,
  burstMs: 1_000,
  offlineShare: 0.05,
  offlineMeanMs: 5_000,
  malformedShare: 0.01,
};

/** No faults at all: a well-behaved fleet. */
export const NO_FAULTS: Readonly<FaultOptions> = {
  ...DEFAULT_FAULTS,
  retryShare: 0,
  outOfOrderShare: 0,
  lateShare: 0,
  burstShare: 0,
  offlineShare: 0,
  malformedShare: 0,
};

export interface SimulatorOptions {
  /** The node's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** A gateway (or admin) token sent with every request. Without it, tokens are minted from `dataDir`. */
  token?: string;
  /**
   * The node's data directory: its key mints one device token per sensor (as real sensors have)
   * and a read token for the final check. Ignored for posting when `token` is given.
   */
  dataDir?: string;
  /** A token that may read aggregates, for the final check. @default minted from `dataDir`, else `token` */
  readToken?: string;
  /** Number of sensors. @default 20 */
  devices?: number;
  /** Region names, or how many of the built-in regions to use. @default 4 */
  regions?: number | string[];
  /** Readings per second across the fleet, outside bursts. @default 50 */
  rate?: number;
  /** Seconds to run before stopping by itself; 0 runs until `stop()`. @default 0 */
  durationS?: number;
  /** Largest number of readings per request. @default 20 */
  batch?: number;
  /** Longest time a reading waits for its batch to fill before it is sent, in milliseconds. @default 1000 */
  lingerMs?: number;
  /** Seed of every random choice: the same seed gives the same fleet and the same faults. @default 1 */
  seed?: number;
  /** Prefix of the device ids (`<prefix>-007`). @default `sim<seed>` */
  devicePrefix?: string;
  /** Requests in flight at most. @default 8 */
  concurrency?: number;
  /** Time a request may take before it is abandoned and retried, in milliseconds. @default 10000 */
  requestTimeoutMs?: number;
  /** After `stop()`, time to deliver what is still queued before giving up on it, in milliseconds. @default 10000 */
  drainTimeoutMs?: number;
  /**
   * Seconds of history each sensor sends first, as if it had been measuring before the run (one
   * reading per `backfillIntervalS`). Fills the dashboard's charts at once. @default 0
   */
  backfillS?: number;
  /** Spacing of backfilled readings, in seconds. @default 60 */
  backfillIntervalS?: number;
  /** Faults to inject; unset ones take their default. @default DEFAULT_FAULTS */
  faults?: Partial<FaultOptions>;
  /**
   * At the end, check the node's aggregates against what the node acknowledged. Without it the
   * simulator keeps no per-region totals. @default true
   */
  check?: boolean;
  /** Called with the live counters every `progressIntervalMs`. */
  onProgress?: (stats: SimulatorStats) => void;
  /** @default 1000 */
  progressIntervalMs?: number;
  /** Called with conditions worth telling the user (a refused token, a node that cannot be reached). */
  onWarning?: (message: string) => void;
}

export type ResolvedOptions = Required<Omit<SimulatorOptions, 'token' | 'dataDir' | 'readToken' | 'regions' | 'faults' | 'onProgress' | 'onWarning'>> & {
  token: string | undefined;
  dataDir: string | undefined;
  readToken: string | undefined;
  regions: string[];
  faults: FaultOptions;
  onProgress: ((stats: SimulatorStats) => void) | undefined;
  onWarning: (message: string) => void;
};

/** Why the options cannot be used; the message names the option and what it must be. */
export class SimulatorOptionsError extends Error {
  override name = 'SimulatorOptionsError';
}

const REGION_RE = /^[A-Za-z0-9._-]{1,64}$/;
const DEVICE_PREFIX_RE = /^[A-Za-z0-9._:-]{1,100}$/;

export function resolveOptions(options: SimulatorOptions, defaultRegionNames: readonly string[]): ResolvedOptions {
  const seed = options.seed ?? 1;
  const r: ResolvedOptions = {
    url: options.url.replace(/\/+$/, ''),
    token: options.token,
    dataDir: options.dataDir,
    readToken: options.readToken,
    devices: options.devices ?? 20,
    regions: [],
    rate: options.rate ?? 50,
    durationS: options.durationS ?? 0,
    batch: options.batch ?? 20,
    lingerMs: options.lingerMs ?? 1000,
    seed,
    devicePrefix: options.devicePrefix ?? `sim${seed}`,
    concurrency: options.concurrency ?? 8,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    backfillS: options.backfillS ?? 0,
    backfillIntervalS: options.backfillIntervalS ?? 60,
    faults: { ...DEFAULT_FAULTS, ...options.faults },
    check: options.check ?? true,
    onProgress: options.onProgress,
    progressIntervalMs: options.progressIntervalMs ?? 1000,
    onWarning: options.onWarning ?? (() => {}),
  };

  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    throw new SimulatorOptionsError(`url: not a URL: ${options.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SimulatorOptionsError('url: must be http: or https:');

  const regions = options.regions ?? 4;
  if (typeof regions === 'number') {
    positiveInt('regions', regions);
    r.regions = Array.from({ length: regions }, (_, i) => defaultRegionNames[i] ?? `region-${i + 1}`);
  } else {
    if (regions.length === 0) throw new SimulatorOptionsError('regions: give at least one region');
    for (const name of regions) {
      if (!REGION_RE.test(name)) throw new SimulatorOptionsError(`regions: ${JSON.stringify(name)} is not a region name (1-64 of A-Z a-z 0-9 . _ -)`);
    }
    r.regions = [...new Set(regions)];
  }

  positiveInt('devices', r.devices);
  if (r.devices > 100_000) throw new SimulatorOptionsError('devices: at most 100000');
  positiveNumber('rate', r.rate);
  nonNegative('duration', r.durationS);
  positiveInt('batch', r.batch);
  if (r.batch > 10_000) throw new SimulatorOptionsError('batch: at most 10000 readings per request (the node refuses more)');
  nonNegative('linger', r.lingerMs);
  if (!Number.isInteger(seed)) throw new SimulatorOptionsError('seed: must be an integer');
  if (!DEVICE_PREFIX_RE.test(r.devicePrefix)) throw new SimulatorOptionsError('devicePrefix: 1-100 of A-Z a-z 0-9 . _ : -');
  positiveInt('concurrency', r.concurrency);
  positiveNumber('requestTimeoutMs', r.requestTimeoutMs);
  nonNegative('drainTimeoutMs', r.drainTimeoutMs);
  nonNegative('backfill', r.backfillS);
  positiveNumber('backfillIntervalS', r.backfillIntervalS);
  for (const key of ['retryShare', 'outOfOrderShare', 'lateShare', 'burstShare', 'offlineShare', 'malformedShare'] as const) {
    const v = r.faults[key];
    if (!(v >= 0 && v <= 1)) throw new SimulatorOptionsError(`${key}: a share from 0 to 1, not ${v}`);
  }
  if (r.faults.offlineShare >= 1) throw new SimulatorOptionsError('offlineShare: must be below 1 (some sensors must be online)');
  if (r.faults.burstShare >= 1) throw new SimulatorOptionsError('burstShare: must be below 1');
  positiveNumber('lateMaxMs', r.faults.lateMaxMs);
  positiveNumber('burstMs', r.faults.burstMs);
  positiveNumber('offlineMeanMs', r.faults.offlineMeanMs);
  return r;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new SimulatorOptionsError(`${name}: a positive integer, not ${v}`);
}

function positiveNumber(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new SimulatorOptionsError(`${name}: a positive number, not ${v}`);
}

function nonNegative(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) throw new SimulatorOptionsError(`${name}: a number from 0, not ${v}`);
}
