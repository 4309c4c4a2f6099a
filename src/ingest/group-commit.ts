/**
 * Group commit: work that arrives together is executed in one transaction and acknowledged
 * together once that transaction is durable. One fsync then covers a whole group instead of one
 * request. Without a commit window a group is whatever arrived while the previous one was being
 * committed (plus anything that arrived in the same event-loop turn).
 *
 * The commit window (`windowMs`) is for flash: when requests arrive slowly, each would be its own
 * commit and fsync, and every fsync rewrites at least one whole page of the WAL on the disk (4 KiB
 * for a 60-byte reading). A group then waits up to `windowMs` after its first job for more. It ends
 * early when waiting cannot gather more: the group is full, the node is draining, or `moreMayCome`
 * says so (the node: too few client connections are free to send compared with the group; clients
 * that wait for each answer before they send again would only be slowed down, and a lone sequential
 * client is never delayed).
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
   * How long a group may wait after its first job for more to join it, in milliseconds: each
   * acknowledgement may wait this long, and the disk is written and synced once per group instead of
   * once per request. 0: no waiting. @default 0
   */
  windowMs?: number;
  /**
   * Whether waiting may still gather more jobs for a group that holds `waiting`; false ends the window at
   * once. Asked at each job that arrives (the node: free client connections still outnumber the group's
   * jobs four to one). @default always true
   */
  moreMayCome?: (waiting: number) => boolean;
  /**
   * Makes a committed group durable (an fsync of the WAL, or a write journal record of it), told the group's
   * results and jobs. Jobs are acknowledged only after it resolves; the next group runs meanwhile. Omit when
   * the transaction itself is durable or durability is relaxed. @default none
   */
  sync?: (results: Array<R | Error>, jobs: readonly J[]) => Promise<void>;
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
  private readonly windowMs: number;
  /** The open window's timer. */
  private window: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(private readonly options: GroupCommitOptions<J, R>) {
    this.maxGroupSize = options.maxGroupSize ?? 1024;
    this.windowMs = Math.max(0, options.windowMs ?? 0);
  }

  /** Resolves once the job's effects are committed and durable; rejects if they were not kept. */
  submit(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      const gather = this.windowMs > 0 && !this.draining && this.queue.length < this.maxGroupSize && (this.options.moreMayCome?.(this.queue.length) ?? true);
      if (!gather) this.endWindow();
      // A window opens with a group's first job; a job that finds one open (or a group about to run) joins it.
      else if (!this.window && !this.scheduled) this.window = setTimeout(() => this.endWindow(), this.windowMs);
    });
  }

  /** Jobs waiting for their group. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when every job submitted so far has been acknowledged or failed (an open window ends now). */
  async drain(): Promise<void> {
    this.draining = true;
    try {
      if (this.window) this.endWindow();
      while (this.queue.length > 0 || this.scheduled || this.syncing > 0) await new Promise((r) => setImmediate(r));
    } finally {
      this.draining = false;
    }
  }

  private endWindow(): void {
    clearTimeout(this.window);
    this.window = undefined;
    this.schedule();
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
    // What is left of a full group goes next, without a window: it has waited already.
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
    sync(results, jobs)
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
