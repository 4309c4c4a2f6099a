/**
 * The node's background retention: prunes raw events past the grace period and a margin, the time buckets
 * each module declares in its manifest (`retention`), gives freed pages back, and watches the disk budget.
 * Everything runs on the store's own connection in small transactions with a yield between them, so ingest
 * waits at most one small commit (docs/operations.md, "Retention and the disk budget").
 */
import { RETENTION_CLASSES, StoreUnavailableError, type RetentionClass, type RetentionRule } from '../runtime/index.js';
import type { PruneRule, SpaceUsage, StoreRetention } from '../store/index.js';
import type { Settings } from './settings.js';

/** How long each kind of data is kept, in milliseconds; 0 keeps it forever. */
export interface RetentionPolicy {
  /** Raw events (the dedup and anti-entropy set): the grace period plus a margin. */
  eventsMs: number;
  /** Per retention class a manifest rule may name. */
  keepMs: Record<RetentionClass, number>;
}

/** The policy the settings describe. */
export function retentionPolicy(settings: Pick<Settings, 'grace-period-ms' | 'retention-events-margin-ms' | 'retention-minute-ms' | 'retention-hour-ms'>): RetentionPolicy {
  return {
    eventsMs: settings['grace-period-ms'] + settings['retention-events-margin-ms'],
    keepMs: { minute: settings['retention-minute-ms'], hour: settings['retention-hour-ms'] },
  };
}

/** A manifest's rules with the policy's times: what {@link StoreRetention.pruneNamespace} takes. */
export function pruneRules(rules: readonly RetentionRule[] | undefined, policy: RetentionPolicy): PruneRule[] {
  return (rules ?? [])
    .filter((r) => (RETENTION_CLASSES as readonly string[]).includes(r.keep))
    .map((r) => ({ prefix: Buffer.from(r.prefix, 'latin1'), unitMs: r.unit_ms, keepMs: policy.keepMs[r.keep] }));
}

/** What the scheduler needs of a loaded module version. */
export interface RetainedModule {
  name: string;
  manifest: { retention?: RetentionRule[] };
}

/** What the scheduler needs of the store. */
export interface RetentionStore {
  retention(): StoreRetention;
}

/** `none`: no budget; `ok`; `near`: past {@link RetentionSchedulerOptions.nearFraction}, pruning at once; `full`: writes refused. */
export type DiskBudgetState = 'none' | 'ok' | 'near' | 'full';

export interface DiskBudget {
  state: DiskBudgetState;
  /** The budget (0: none). */
  maxBytes: number;
  /** Bytes the data took at the last pass. */
  usedBytes: number;
}

/** What one pass did. */
export interface RetentionPassReport {
  eventRows: number;
  bucketRows: number;
  reclaimedPages: number;
  transactions: number;
  budget: DiskBudget;
}

export interface RetentionSchedulerOptions {
  store: RetentionStore;
  /** The module versions loaded now, read at each pass: every namespace of each one's module is pruned. */
  modules: () => Iterable<RetainedModule>;
  policy: RetentionPolicy;
  /** Time between passes; 0 never runs one on its own (runOnce still works). @default 60000 */
  intervalMs?: number;
  /** The database budget in bytes, 0 for none (`max-db-size`). @default 0 */
  maxDbSizeBytes?: number;
  /** Share of the budget past which the node prunes at once and passes come quickly. @default 0.9 */
  nearFraction?: number;
  /**
   * Room left under the budget below which it counts as full: a request as large as this may be refused
   * (the node passes its `body-limit`). @default 1048576
   */
  fullRoomBytes?: number;
  /** Rows deleted per transaction. @default 500 */
  rowsPerTransaction?: number;
  /** Transactions per pass; what is left waits for the next pass. @default 2000 */
  maxTransactionsPerPass?: number;
  /**
   * A database created before incremental vacuum is rewritten once (VACUUM, which blocks the store) when no
   * larger than this; a larger one only reuses its freed pages. @default 33554432 (32 MiB)
   */
  convertMaxBytes?: number;
  /** The clock, in milliseconds since the epoch. @default Date.now */
  now?: () => number;
  onPass?: (report: RetentionPassReport) => void;
  onError?: (error: unknown) => void;
}

/** Time between passes while the budget is near or full. */
const PRESSURE_INTERVAL_MS = 2_000;

const yieldToIngest = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionPassReport> | undefined;
  private stopped = true;
  /** Set by stop(): a pass running ends between two transactions. */
  private stopRequested = false;
  private converted = false;
  private lastBudget: DiskBudget;
  private readonly now: () => number;

  constructor(private readonly options: RetentionSchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.lastBudget = { state: this.maxBytes > 0 ? 'ok' : 'none', maxBytes: this.maxBytes, usedBytes: 0 };
  }

  private get maxBytes(): number {
    return this.options.maxDbSizeBytes ?? 0;
  }

  /** Applies the budget and runs passes every `intervalMs` (the first one at once). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopRequested = false;
    try {
      this.options.store.retention().limitSize(this.maxBytes);
      this.lastBudget = this.measure();
    } catch (error) {
      this.options.onError?.(error);
    }
    this.schedule(0);
  }

  /** Stops the passes and waits for the one running, if any (it stops between two transactions). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopRequested = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** The budget as the last pass (or {@link start}) measured it. */
  budget(): DiskBudget {
    return this.lastBudget;
  }

  /** Runs one pass now (or joins the one running). */
  runOnce(): Promise<RetentionPassReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    const interval = this.options.intervalMs ?? 60_000;
    if (this.stopped || (interval === 0 && delayMs !== 0)) return;
    this.timer = setTimeout(() => {
      this.runOnce()
        .catch((error: unknown) => {
          // A store closed under it (a start that failed after this one started): nothing more to do.
          if (error instanceof StoreUnavailableError && error.code === 'store_closed') this.stopped = true;
          else this.options.onError?.(error);
        })
        .finally(() => {
          const pressure = this.lastBudget.state === 'near' || this.lastBudget.state === 'full';
          this.schedule(pressure ? Math.min(interval || PRESSURE_INTERVAL_MS, PRESSURE_INTERVAL_MS) : interval);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async pass(): Promise<RetentionPassReport> {
    const { options } = this;
    const store = options.store.retention();
    const rows = Math.max(1, options.rowsPerTransaction ?? 500);
    const budget = { transactions: options.maxTransactionsPerPass ?? 2000 };
    const nowMs = this.now();
    const report: RetentionPassReport = { eventRows: 0, bucketRows: 0, reclaimedPages: 0, transactions: 0, budget: this.lastBudget };
    if (!this.converted) {
      this.converted = true;
      store.enableIncrementalVacuum(options.convertMaxBytes ?? 32 * 1024 * 1024);
    }
    const modules = new Map<string, PruneRule[]>();
    for (const m of options.modules()) modules.set(m.name, [...(modules.get(m.name) ?? []), ...pruneRules(m.manifest.retention, options.policy)]);
    // Each step deletes up to `rows` in one transaction and says how many; fewer means it is done.
    const drain = async (step: () => number): Promise<number> => {
      let total = 0;
      while (!this.stopRequested && budget.transactions > 0) {
        budget.transactions--;
        report.transactions++;
        const n = step();
        total += n;
        if (n < rows) break;
        await yieldToIngest();
      }
      return total;
    };
    for (const [name, rules] of modules) {
      if (options.policy.eventsMs > 0) report.eventRows += await drain(() => store.pruneEvents(name, nowMs - options.policy.eventsMs, rows));
      if (rules.length === 0) continue;
      for (const namespace of store.namespacesOf(name)) {
        report.bucketRows += await drain(() => store.pruneNamespace(namespace, rules, nowMs, rows));
      }
    }
    report.reclaimedPages = await drain(() => store.reclaim(rows));
    store.limitSize(this.maxBytes);
    this.lastBudget = report.budget = this.measure();
    options.onPass?.(report);
    return report;
  }

  private measure(): DiskBudget {
    const max = this.maxBytes;
    if (max <= 0) return { state: 'none', maxBytes: 0, usedBytes: this.options.store.retention().usage().usedBytes };
    const usage: SpaceUsage = this.options.store.retention().usage();
    const room = usage.capBytes - usage.usedBytes;
    const state = room < (this.options.fullRoomBytes ?? 1024 * 1024) ? 'full' : usage.usedBytes >= max * (this.options.nearFraction ?? 0.9) ? 'near' : 'ok';
    return { state, maxBytes: max, usedBytes: usage.usedBytes };
  }
}
