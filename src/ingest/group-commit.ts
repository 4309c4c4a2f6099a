/**
 * Group commit: work that arrives together is executed in one transaction and acknowledged
 * together once that transaction is durable. One fsync then covers a whole group instead of one
 * request, and a request never waits for a timer: a group is whatever arrived while the previous
 * one was being committed (plus anything that arrived in the same event-loop turn).
 */

export interface GroupCommitOptions<J, R> {
  /** Runs `fn` in one transaction that is durable when it returns (throws: nothing was kept). */
  transaction: <T>(fn: () => T) => T;
  /**
   * Executes a group inside the transaction: one result or Error per job, in order. A job's Error
   * fails that job only; a throw fails the whole group.
   */
  execute: (jobs: J[]) => Array<R | Error>;
  /** The most jobs in one group. @default 1024 */
  maxGroupSize?: number;
  /**
   * Makes a committed transaction durable (an fsync of the WAL). Jobs are acknowledged only after
   * it resolves; the next group runs meanwhile. Omit when the transaction itself is durable or
   * durability is relaxed. @default none
   */
  sync?: () => Promise<void>;
  /** Told once a group is committed and durable, with its results and its jobs (in the same order). @default ignore */
  onCommitted?: (results: Array<R | Error>, jobs: readonly J[]) => void;
  /** Told after every group, with its jobs, for metrics and traces. @default ignore */
  onGroup?: (report: GroupReport, jobs: readonly J[]) => void;
}

/** A commit group's outcome. */
export interface GroupReport {
  size: number;
  /** From the start of its execution to its acknowledgement (or failure), sync included. */
  durationMs: number;
  failed: boolean;
  /** The transaction committed: true also when only the sync after it failed. */
  committed: boolean;
}

interface Pending<J, R> {
  job: J;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<J, R> {
  private queue: Pending<J, R>[] = [];
  private scheduled = false;
  /** Groups committed and waiting for their sync. */
  private syncing = 0;
  private readonly maxGroupSize: number;

  constructor(private readonly options: GroupCommitOptions<J, R>) {
    this.maxGroupSize = options.maxGroupSize ?? 1024;
  }

  /** Resolves once the job's effects are committed and durable; rejects if they were not kept. */
  submit(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.schedule();
    });
  }

  /** Jobs waiting for their group. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when every job submitted so far has been acknowledged or failed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled || this.syncing > 0) await new Promise((r) => setImmediate(r));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the I/O phase, so every request parsed in this turn joins the group.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue.splice(0, this.maxGroupSize);
    if (this.queue.length > 0) this.schedule();
    if (group.length === 0) return;
    const started = performance.now();
    const jobs = group.map((p) => p.job);
    let results: Array<R | Error>;
    try {
      results = this.options.transaction(() => this.options.execute(jobs));
    } catch (error) {
      this.options.onGroup?.({ size: group.length, durationMs: performance.now() - started, failed: true, committed: false }, jobs);
      for (const p of group) p.reject(error);
      return;
    }
    const sync = this.options.sync;
    if (!sync) {
      this.acknowledge(group, jobs, results, started);
      return;
    }
    this.syncing++;
    sync()
      .then(
        () => this.acknowledge(group, jobs, results, started),
        (error: unknown) => {
          // Committed but not known to be on disk: nothing is acknowledged; a retry is answered
          // "duplicate", so nothing is lost or counted twice.
          this.options.onGroup?.({ size: group.length, durationMs: performance.now() - started, failed: true, committed: true }, jobs);
          for (const p of group) p.reject(error);
        },
      )
      .finally(() => this.syncing--);
  }

  private acknowledge(group: Pending<J, R>[], jobs: readonly J[], results: Array<R | Error>, started: number): void {
    this.options.onGroup?.({ size: group.length, durationMs: performance.now() - started, failed: false, committed: true }, jobs);
    this.options.onCommitted?.(results, jobs);
    group.forEach((p, i) => {
      const result = results[i];
      if (result instanceof Error) p.reject(result);
      else p.resolve(result as R);
    });
  }
}
