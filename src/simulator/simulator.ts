/**
 * A fleet run: sensors measuring on a schedule, their readings batched and posted, the node's
 * answers accounted for, and at the end the node's aggregates checked against them.
 */
import { issueToken, readNodeKey } from '../auth/index.js';
import { RequestRefusedError } from '../client/index.js';
import { RetryableError, sleep, withRetry, type BackoffPolicy } from '../resilience/index.js';
import { Channel, LOST_ANSWER } from './channel.js';
import { checkAggregates, type AggregateView, type CheckResult } from './check.js';
import { DEFAULT_REGIONS, climateOf } from './climate.js';
import { LABEL, SimDevice, type SimReading } from './device.js';
import { Ledger, type SimulatorStats } from './ledger.js';
import { resolveOptions, type ResolvedOptions, type SimulatorOptions } from './options.js';
import { Random, seedOf } from './random.js';

export interface SimulatorSummary {
  /** False only when the check failed (a skipped check passes). */
  passed: boolean;
  check: CheckResult;
  stats: SimulatorStats;
  run: {
    url: string;
    devices: number;
    regions: string[];
    rate: number;
    batch: number;
    seed: number;
    /** How requests were authenticated: one device token per sensor, one shared token, or none. */
    tokens: 'device' | 'shared' | 'none';
  };
}

export interface Simulator {
  /** Settles when the run ends: by itself after its duration, or through `stop()`. */
  readonly done: Promise<SimulatorSummary>;
  /** Stops measuring, delivers what is queued (for up to `drainTimeoutMs`), checks, and resolves with the summary. */
  stop(): Promise<SimulatorSummary>;
  /** The live counters. */
  stats(): SimulatorStats;
}

/** Starts a fleet; it runs until its duration is over or `stop()` is called. */
export function startSimulator(options: SimulatorOptions): Simulator {
  const run = new FleetRun(resolveOptions(options, DEFAULT_REGIONS.map((r) => r.name)));
  run.start();
  return { done: run.done, stop: () => run.stop(), stats: () => run.snapshot() };
}

const TICK_MS = 50;
const BURST_FACTOR = 10;
/** Reading the aggregates: one reader, so no jitter is needed. */
const READ_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 1_000, multiplier: 2, jitter: 0 };

class FleetRun {
  readonly done: Promise<SimulatorSummary>;
  private resolveDone!: (s: SimulatorSummary) => void;
  private rejectDone!: (e: unknown) => void;
  private readonly ledger: Ledger;
  private readonly random: Random;
  private readonly abandon = new AbortController();
  private devices: SimDevice[] = [];
  private channels: Channel[] = [];
  private tokens: 'device' | 'shared' | 'none' = 'none';
  private readToken: string | undefined;
  private baseline: Map<string, AggregateView> | undefined;
  private checkSkipped: string | undefined;
  private started: Promise<void> | undefined;
  private stopping: Promise<SimulatorSummary> | undefined;
  private draining = false;
  private timers: NodeJS.Timeout[] = [];
  private startedAt = Date.now();
  private lastTick = 0;
  private credit = 0;
  private cursor = 0;
  private pumpCursor = 0;
  private burstUntil = 0;
  private inFlightReadings = 0;
  private readonly warned = new Set<string>();

  constructor(private readonly o: ResolvedOptions) {
    this.ledger = new Ledger(o.devices, o.check);
    this.random = new Random(seedOf(o.seed, 'fleet'));
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // The caller may only ever use stop(); a failed start must not be an unhandled rejection then.
    this.done.catch(() => {});
  }

  start(): void {
    this.started = this.setUp().then(
      () => {
        this.startedAt = Date.now();
        this.lastTick = this.startedAt;
        this.timers.push(setInterval(() => this.tick(), TICK_MS));
        if (this.o.onProgress) this.timers.push(setInterval(() => this.o.onProgress!(this.snapshot()), this.o.progressIntervalMs));
        if (this.o.durationS > 0) this.timers.push(setTimeout(() => void this.stop().catch(() => {}), this.o.durationS * 1000));
      },
      (error: unknown) => {
        this.rejectDone(error);
        throw error;
      },
    );
    this.started.catch(() => {});
  }

  stop(): Promise<SimulatorSummary> {
    this.stopping ??= this.finish().then(
      (summary) => {
        this.resolveDone(summary);
        return summary;
      },
      (error: unknown) => {
        this.rejectDone(error);
        throw error;
      },
    );
    return this.stopping;
  }

  snapshot(): SimulatorStats {
    const s = this.ledger.stats;
    let queued = this.inFlightReadings;
    let offline = 0;
    for (const d of this.devices) {
      queued += d.pending;
      if (!d.online) offline++;
    }
    for (const c of this.channels) queued += c.queue.length;
    return structuredClone({ ...s, elapsedMs: Date.now() - this.startedAt, queued, offline });
  }

  private async setUp(): Promise<void> {
    const o = this.o;
    const ids = Array.from({ length: o.devices }, (_, i) => `${o.devicePrefix}-${String(i + 1).padStart(3, '0')}`);
    let deviceTokens: string[] | undefined;
    let shared: string | undefined;
    if (o.token) {
      shared = o.token;
      this.tokens = 'shared';
    } else if (o.dataDir) {
      const key = readNodeKey(o.dataDir);
      deviceTokens = await Promise.all(ids.map((id) => issueToken(key, { scope: 'device', subject: id })));
      this.tokens = 'device';
    } else {
      o.onWarning('no --token and no --data-dir: sending without a token (only a node run with --auth false accepts that)');
    }
    this.readToken = o.readToken ?? (o.dataDir ? await issueToken(readNodeKey(o.dataDir), { scope: 'read' }) : shared);

    // With device tokens each sensor sends for itself; a shared token is a gateway's, and a few gateways share the sensors.
    const channelCount = deviceTokens ? o.devices : Math.min(o.devices, o.concurrency);
    this.channels = Array.from({ length: channelCount }, (_, i) => new Channel(o, deviceTokens?.[i] ?? shared, new Random(seedOf(o.seed, 'channel', i))));
    this.devices = ids.map((id, i) => {
      const region = o.regions[i % o.regions.length]!;
      const channel = this.channels[i % channelCount]!;
      return new SimDevice(i, id, ids[(i + 1) % ids.length] === id ? `${id}-x` : ids[(i + 1) % ids.length]!, region, climateOf(region), o.seed, o.faults, deviceTokens !== undefined, (r) =>
        channel.enqueue(r),
      );
    });

    if (o.check) {
      try {
        // The node may still be starting: give it a few seconds.
        this.baseline = await this.readAggregates(5_000);
      } catch (error) {
        this.checkSkipped = `could not read the node's aggregates before the run: ${(error as Error).message}`;
        o.onWarning(`${this.checkSkipped}; the final check is skipped`);
      }
    }

    if (o.backfillS > 0) {
      const now = Date.now();
      for (const d of this.devices) {
        for (const t of d.historyTimestamps(now - o.backfillS * 1000, now, o.backfillIntervalS * 1000)) this.ledger.generated(d.historic(t));
      }
    }
  }

  private tick(): void {
    const now = Date.now();
    const o = this.o;
    if (!this.draining) {
      // An event loop that stalled does not make up for it with a flood.
      const dt = Math.min(now - this.lastTick, 1_000);
      this.lastTick = now;
      if (now >= this.burstUntil && this.random.chance(perTick(o.faults.burstShare, o.faults.burstMs))) {
        this.burstUntil = now + o.faults.burstMs;
        this.ledger.stats.faults.bursts++;
      }
      const burst = now < this.burstUntil;
      this.credit += (o.rate * (burst ? BURST_FACTOR : 1) * dt) / 1000;
      let n = Math.floor(this.credit);
      this.credit -= n;
      while (n-- > 0) {
        const device = this.devices[this.cursor++ % this.devices.length]!;
        this.ledger.generated(device.measure(now, burst ? LABEL.BURST : 0));
      }
      if (o.faults.offlineShare > 0) {
        const p = perTick(o.faults.offlineShare, o.faults.offlineMeanMs);
        for (const d of this.devices) {
          if (d.online && d.random.chance(p)) {
            d.goOffline(now + d.random.between(0.5, 1.5) * o.faults.offlineMeanMs);
            this.ledger.stats.faults.offlinePeriods++;
          }
        }
      }
    }
    for (const d of this.devices) d.tick(now);
    this.pump(now);
  }

  /** Starts the batches that are due, up to the concurrency limit, one request per channel at a time. */
  private pump(now: number): void {
    const n = this.channels.length;
    for (let i = 0; i < n && this.ledger.stats.inFlight < this.o.concurrency; i++) {
      const channel = this.channels[(this.pumpCursor + i) % n]!;
      if (channel.busy || channel.queue.length === 0) continue;
      if (!this.draining && channel.queue.length < this.o.batch && now - channel.oldestAt < this.o.lingerMs) continue;
      const readings = channel.queue.splice(0, this.o.batch);
      if (channel.queue.length > 0) channel.oldestAt = now;
      void this.send(channel, readings);
    }
    this.pumpCursor = (this.pumpCursor + 1) % Math.max(n, 1);
  }

  private async send(channel: Channel, readings: SimReading[]): Promise<void> {
    const stats = this.ledger.stats;
    channel.busy = true;
    stats.inFlight++;
    this.inFlightReadings += readings.length;
    try {
      const answer = await channel.post(readings, {
        signal: this.abandon.signal,
        onAttempt: (attempt) => {
          stats.requests++;
          if (attempt === 0) this.ledger.posted(readings);
          else stats.retries++;
        },
        onFailure: (error) => {
          if (error.code === LOST_ANSWER) stats.lostAnswers++;
          else this.ledger.attemptFailed(error.code);
        },
      });
      const now = Date.now();
      answer.results.forEach((result, i) => this.ledger.answer(readings[i]!, result.status, result.error?.code, now));
    } catch (error) {
      if (error instanceof RequestRefusedError) {
        this.ledger.attemptFailed(`http_${error.status}`);
        this.ledger.refused(readings);
        this.warnOnce(`refused:${error.code}`, `the node refused a batch: ${error.status} ${error.code}: ${error.message}`);
      } else {
        // Abandoned at the end of the drain: what the node holds of these is unknown.
        this.ledger.abandoned(readings);
      }
    } finally {
      channel.busy = false;
      stats.inFlight--;
      this.inFlightReadings -= readings.length;
    }
    if (!this.abandon.signal.aborted) this.pump(Date.now());
  }

  private async finish(): Promise<SimulatorSummary> {
    await this.started;
    this.draining = true;
    for (const d of this.devices) d.flush();
    this.pump(Date.now());
    const deadline = Date.now() + this.o.drainTimeoutMs;
    while (!this.idle() && Date.now() < deadline) await sleep(TICK_MS);
    if (!this.idle()) {
      this.o.onWarning(`gave up delivering after ${this.o.drainTimeoutMs} ms; what was not answered is counted as in doubt or unsent`);
      this.abandon.abort();
      // In-flight requests and backoff waits end at once.
      while (this.ledger.stats.inFlight > 0) await sleep(TICK_MS);
      for (const c of this.channels) this.ledger.abandoned(c.queue.splice(0));
    }
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const stats = this.snapshot();
    this.o.onProgress?.(stats);
    const check = await this.check(stats);
    return {
      passed: check.status !== 'fail',
      check,
      stats,
      run: {
        url: this.o.url,
        devices: this.o.devices,
        regions: this.o.regions,
        rate: this.o.rate,
        batch: this.o.batch,
        seed: this.o.seed,
        tokens: this.tokens,
      },
    };
  }

  private idle(): boolean {
    return this.ledger.stats.inFlight === 0 && this.channels.every((c) => c.queue.length === 0);
  }

  private async check(stats: SimulatorStats): Promise<CheckResult> {
    if (!this.o.check) return { status: 'skipped', reason: 'the check was turned off', regions: [] };
    if (this.checkSkipped || !this.baseline) return { status: 'skipped', reason: this.checkSkipped ?? 'no baseline', regions: [] };
    let after: Map<string, AggregateView>;
    try {
      after = await this.readAggregates(1_000);
    } catch (error) {
      return { status: 'fail', reason: `could not read the node's aggregates after the run: ${(error as Error).message}`, regions: [] };
    }
    return checkAggregates({
      regions: this.o.regions,
      ours: this.ledger.regions,
      before: this.baseline,
      after,
      inDoubt: stats.inDoubt,
      malformedAccepted: stats.observed.malformedAccepted,
    });
  }

  /** `GET /v1/regions`, retried for up to `budgetMs` while the node cannot be reached or answers 5xx. */
  private async readAggregates(budgetMs: number): Promise<Map<string, AggregateView>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.readToken) headers.authorization = `Bearer ${this.readToken}`;
    const deadline = Date.now() + budgetMs;
    const read = async (): Promise<Map<string, AggregateView>> => {
      let res: Response;
      try {
        res = await fetch(`${this.o.url}/v1/regions?limit=1000`, { headers, signal: AbortSignal.timeout(Math.max(1_000, Math.min(this.o.requestTimeoutMs, deadline - Date.now()))) });
      } catch (error) {
        throw new RetryableError('network', (error as Error).message, { cause: error });
      }
      const text = await res.text();
      if (res.status >= 500) throw new RetryableError(`http_${res.status}`, `${res.status} ${text.slice(0, 200)}`);
      if (res.status !== 200) {
        const hint = res.status === 401 || res.status === 403 ? ' (give a token that may read: --read-token, an admin --token, or --data-dir)' : '';
        throw new Error(`GET /v1/regions answered ${res.status} ${text.slice(0, 200)}${hint}`);
      }
      const body = JSON.parse(text) as { regions: Array<AggregateView & { region: string }> };
      return new Map(body.regions.map((r) => [r.region, { count: r.count, sum: r.sum, min: r.min, max: r.max }]));
    };
    try {
      return await withRetry(read, { backoff: READ_BACKOFF, maxAttempts: Number.POSITIVE_INFINITY, budgetMs, retryable: (e) => e instanceof RetryableError });
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      throw new Error(`the node at ${this.o.url} cannot be reached: ${error.message}`, { cause: error });
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.o.onWarning(message);
  }
}

/**
 * The chance per tick that makes a state with mean length `meanMs` take `share` of the time:
 * entering at rate λ and leaving after meanMs gives share = λ·meanMs / (1 + λ·meanMs).
 */
function perTick(share: number, meanMs: number): number {
  if (share <= 0) return 0;
  return Math.min(1, (share / (1 - share) / meanMs) * TICK_MS);
}
