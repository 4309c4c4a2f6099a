/**
 * The write path: a request goes through the guest's `ea_on_http` (validation, and the event log's dedup
 * through `event_append`) in the transaction of its commit group, and a 2xx is sent only after that commit
 * is durable. The events that were new are folded into the guest's aggregates with `ea_on_events`.
 *
 * The fold may lag the log by up to `foldDelayMs`. A group's new events are then recorded in the fold
 * journal, in the group's own transaction, and folded together with later groups' once MAX_UNFOLDED have
 * gathered or the oldest has waited `foldDelayMs`. Each aggregate record is read and rewritten once per
 * fold instead of once per group, which is most of what a small group cost (BENCHMARKS.md). The log stays
 * the truth, and the lag is never visible:
 * - reads go through `read`, which folds first, so a read sees every committed event;
 * - a crash loses no fold: a fold clears the journal in its own transaction, so after a restart the journal
 *   holds exactly the events still to fold, and they are folded first (each once);
 * - an event the guest cannot fold is isolated (the events are halved until the failing ones are found),
 *   kept in the journal and reported, and the rest is folded.
 */
import { isStoreFailure } from '../resilience/index.js';
import { GuestCallError, type AppendOutcome, type GuestHttpRequest, type GuestModule, type HttpCallResult, type StoredEvent } from '../runtime/index.js';
import { GroupCommit } from './group-commit.js';
import type { DurableGroup, FoldJournal, GroupEvent, IngestPipelineOptions } from './pipeline-options.js';

/**
 * Past this many waiting events a group folds them all, whatever their age: it bounds one fold's guest call
 * and what a start has to fold after a crash.
 */
export const MAX_UNFOLDED = 1024;

/** After a failed timed fold (the store refused it), the next try waits at least this long. */
const RETRY_FOLD_MS = 1000;

/** What every unit of work in a group yields: the events it added to the log that were new. */
interface JobResult {
  newEvents: StoredEvent[];
}

/** A unit of work run inside its group's transaction, and the trace of the request it serves. */
interface Job {
  /** All or nothing: when it throws, it has undone its own writes (a nested transaction). */
  run: () => JobResult;
  trace: unknown;
  /** Where its events come from: a guest call here, or another node. */
  origin: GroupEvent['origin'];
}

/** The outcome of events that arrived from elsewhere (another node, a replay). */
export interface EventsResult extends JobResult {
  outcomes: AppendOutcome[];
}

/** The events waiting for a fold, as a transaction leaves them (applied only once it commits). */
interface FoldState {
  /** Committed, not yet folded, oldest first. */
  unfolded: StoredEvent[];
  /** When the oldest of them was committed (performance.now()). */
  since: number;
  /** The guest could not fold them: in the journal, not tried again by this process. */
  quarantined: StoredEvent[];
}

export class IngestPipeline {
  private readonly groups: GroupCommit<Job, JobResult>;
  private readonly module: GuestModule;
  private readonly journal: FoldJournal | undefined;
  private readonly foldDelayMs: number;
  private state: FoldState = { unfolded: [], since: 0, quarantined: [] };
  /** What the running transaction did to `state`. */
  private staged: FoldState | undefined;
  /** The partitions a group folded, told once the group is durable. */
  private readonly foldedBy = new WeakMap<readonly Job[], Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  /** The last fold the store was asked for was refused (reported once until a fold succeeds). */
  private refusing = false;
  /** Told the events of every fold once its transaction commits (a version building its state). */
  private readonly captures = new Set<(events: readonly StoredEvent[]) => void>();
  /** Events the running transaction folded, told to `captures` once it commits. */
  private stagedFolded: StoredEvent[] = [];
  /** The groups whose requests wrote key-value records themselves (not only events). */
  private readonly directGroups = new WeakSet<readonly Job[]>();

  constructor(private readonly options: IngestPipelineOptions) {
    this.module = options.module;
    this.journal = options.journal;
    this.foldDelayMs = options.foldDelayMs ?? 0;
    if (this.foldDelayMs > 0 && !this.journal) throw new Error('a fold delay needs a fold journal');
    const sync = options.sync;
    this.groups = new GroupCommit({
      transaction: (fn) => this.transaction(fn),
      execute: (jobs) => this.execute(jobs),
      maxGroupSize: options.maxGroupSize,
      sync: sync && ((results, jobs) => sync(this.durableGroup(results, jobs))),
      windowMs: options.commitWindowMs,
      moreMayCome: options.moreMayCome,
      onGroup:
        options.onGroup || options.observer
          ? (report, jobs) => {
              options.onGroup?.(report);
              options.observer?.group(report, jobs.map((j) => j.trace));
            }
          : undefined,
      onCommitted: (results, jobs) => this.notify(results, jobs),
    });
    // What a crash left unfolded: folded before the first read, or by the first group or timer.
    const left = this.journal?.load() ?? [];
    if (left.length > 0) this.settle({ unfolded: left, since: performance.now(), quarantined: [] });
  }

  /** Committed events whose fold waits (0 when the aggregates are up to date). */
  get waiting(): number {
    return this.state.unfolded.length;
  }

  /** Events the guest could not fold, kept in the journal until the next start. */
  get quarantined(): number {
    return this.state.quarantined.length;
  }

  /**
   * Handles a write request through the guest; resolves after its effects are durable. `trace` is the
   * request's telemetry scope, handed to the observer as is.
   */
  submit<R extends HttpCallResult = HttpCallResult>(request: GuestHttpRequest, trace?: unknown, invoke?: (request: GuestHttpRequest) => R): Promise<R> {
    const call = invoke ?? ((r: GuestHttpRequest) => this.folders()[0]!.invokeHttp(r) as R);
    return this.groups.submit({ run: () => call(request), trace, origin: 'local' }) as Promise<R>;
  }

  /** Runs `fn` all or nothing inside the running transaction (a split batch's two calls). */
  atomically<T>(fn: () => T): T {
    return this.options.store.atomically(fn);
  }

  /**
   * Tells `capture` the events of every fold from now on, once the fold's transaction has committed, until
   * the returned function is called: how a version building its state learns what it must add.
   */
  captureFolds(capture: (events: readonly StoredEvent[]) => void): () => void {
    this.captures.add(capture);
    return () => this.captures.delete(capture);
  }

  /**
   * Adds events that arrived from elsewhere through the same dedup as local ones: `append` adds one to
   * the event log (answering new, duplicate or conflict), and the new ones are folded like local ones.
   * Resolves after they are durable.
   */
  submitEvents(events: readonly StoredEvent[], append: (event: StoredEvent) => AppendOutcome): Promise<EventsResult> {
    return this.groups.submit({
      // All or nothing, like a guest call (which runs in its own nested transaction).
      run: () =>
        this.options.store.atomically(() => {
          const outcomes = events.map(append);
          return { outcomes, newEvents: events.filter((_e, i) => outcomes[i] === 'new') };
        }),
      trace: undefined,
      origin: 'replicated',
    }) as Promise<EventsResult>;
  }

  /**
   * Folds every committed event still waiting, in a transaction of its own (not synced: the events are
   * durable already, and a fold lost to a power cut is redone from the journal). It returns at once when
   * nothing waits.
   */
  foldNow(): void {
    if (this.state.unfolded.length === 0) return;
    const partitions = this.transaction(() => this.fold(this.state.unfolded));
    this.options.onFolded?.(partitions);
  }

  /**
   * Runs `read` on aggregates that include every committed event: folds what waits first. When the store
   * cannot keep that fold (a full disk), the fold is made in a transaction that is rolled back after `read`,
   * so reads stay exact while the store refuses writes.
   */
  read<T>(read: () => T): T {
    try {
      this.foldNow();
    } catch (error) {
      if (!isStoreFailure(error)) throw error;
      this.storeRefused(error);
      return this.readWithTransientFold(read);
    }
    return read();
  }

  private readWithTransientFold<T>(read: () => T): T {
    const rollBack = new Error('roll back the transient fold');
    let result: { value: T } | undefined;
    try {
      // Held: a savepoint of the held groups, which the rollback leaves as they are.
      this.options.store.transaction(() => {
        for (const m of this.folders()) m.invokeEvents(this.state.unfolded);
        result = { value: read() };
        throw rollBack;
      }, { hold: this.hold() });
    } catch (error) {
      if (error !== rollBack) throw error;
    }
    return result!.value;
  }

  /**
   * For a stop: resolves when every job submitted so far has been acknowledged or failed and the waiting
   * events are folded (or, if the store refused, left in the journal for the next start).
   */
  async drain(): Promise<void> {
    await this.groups.drain();
    this.foldWaiting();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs `fn` in one transaction, and keeps what it staged only if that commits. */
  private transaction<T>(fn: () => T): T {
    this.staged = undefined;
    this.stagedFolded = [];
    let result: T;
    try {
      result = this.options.store.transaction(fn, { hold: this.hold() });
    } catch (error) {
      this.stagedFolded = [];
      throw error;
    }
    if (this.staged) this.settle(this.staged);
    this.staged = undefined;
    const folded = this.stagedFolded;
    this.stagedFolded = [];
    if (folded.length > 0) for (const capture of this.captures) capture(folded);
    return result;
  }

  private hold(): boolean {
    return this.options.holdTransactions?.() ?? false;
  }

  private folders(): readonly GuestModule[] {
    return this.options.folders?.() ?? [this.module];
  }

  private settle(state: FoldState): void {
    this.state = state;
    if (state.unfolded.length === 0) this.refusing = false;
    if (state.unfolded.length === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else if (!this.timer) {
      this.foldIn(state.since + this.foldDelayMs - performance.now());
    }
  }

  /** Folds what waits in `ms`, with no read or write needed (the stream then shows it). */
  private foldIn(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.foldWaiting();
    }, Math.max(0, ms));
    // A stopping node folds in `drain`; the timer alone does not keep the process alive.
    this.timer.unref();
  }

  /** `foldNow` off the request path: a failure is reported, and the events wait for the next try. */
  private foldWaiting(): void {
    try {
      this.foldNow();
    } catch (error) {
      this.storeRefused(error);
      if (!this.timer) this.foldIn(Math.max(this.foldDelayMs, RETRY_FOLD_MS));
    }
  }

  /** Reports a fold the store refused, once per run of refusals (reads during a full disk would repeat it). */
  private storeRefused(error: unknown): void {
    if (this.refusing) return;
    this.refusing = true;
    this.options.onFoldFailed?.(error, this.state.unfolded, true);
  }

  private execute(jobs: Job[]): Array<JobResult | Error> {
    const observer = this.options.observer;
    if (!observer) return this.executeGroup(jobs, (_job, fn) => fn());
    return observer.execute(
      jobs.map((j) => j.trace),
      () => this.executeGroup(jobs, (job, fn) => observer.job(job.trace, fn)),
    );
  }

  private executeGroup(jobs: Job[], observe: <T>(job: Job, fn: () => T) => T): Array<JobResult | Error> {
    const { store } = this.options;
    const directBefore = store.directWrites;
    // Each job's run is all or nothing by itself, so a failed job leaves nothing in the group.
    const out = jobs.map((job) => attempt(() => observe(job, job.run)));
    if (store.directWrites !== directBefore) this.directGroups.add(jobs);
    const fresh = out.flatMap((r) => (r instanceof Error ? [] : r.newEvents));
    const { unfolded, since } = this.state;
    const waiting = unfolded.length === 0 ? fresh : unfolded.concat(fresh);
    if (waiting.length === 0) return out;
    const now = performance.now();
    const defer = this.journal && this.foldDelayMs > 0 && waiting.length < MAX_UNFOLDED && (unfolded.length === 0 || now - since < this.foldDelayMs);
    if (defer) {
      this.journal!.append(fresh);
      this.staged = { unfolded: waiting, since: unfolded.length === 0 ? now : since, quarantined: this.state.quarantined };
    } else {
      // One fold for all of them: each aggregate record is read and written once.
      this.foldedBy.set(jobs, this.fold(waiting));
    }
    return out;
  }

  /**
   * Folds `events` (inside the running transaction) and stages the state after it: returns the partitions
   * whose aggregates changed. The journal is emptied but for what the guest could not fold.
   */
  private fold(events: readonly StoredEvent[]): Set<string> {
    const failures: unknown[] = [];
    const failed = this.foldIsolating(events, failures);
    const quarantined = failed.length === 0 ? this.state.quarantined : this.state.quarantined.concat(failed);
    if (this.journal && (this.state.unfolded.length > 0 || quarantined.length > 0)) {
      this.journal.clear();
      this.journal.append(quarantined);
    }
    this.staged = { unfolded: [], since: 0, quarantined };
    if (failed.length > 0) this.options.onFoldFailed?.(failures[0], failed, false);
    const kept = new Set(failed);
    const folded = failed.length === 0 ? events : events.filter((e) => !kept.has(e));
    this.foldSecondaries(folded);
    if (this.captures.size > 0) this.stagedFolded.push(...folded);
    const partitions = new Set<string>();
    for (const e of folded) partitions.add(e.partition);
    return partitions;
  }

  /**
   * Folds `events` all or nothing; when the guest fails on them, folds each half the same way, down to the
   * single events it fails on, which it returns (and their errors in `failures`). A store failure throws.
   */
  private foldIsolating(events: readonly StoredEvent[], failures: unknown[]): StoredEvent[] {
    try {
      const first = this.folders()[0]!;
      this.options.store.atomically(() => first.invokeEvents(events));
      return [];
    } catch (error) {
      if (!(error instanceof GuestCallError) || isStoreFailure(error)) throw error;
      if (events.length === 1) {
        failures.push(error);
        return [events[0]!];
      }
      const half = events.length >>> 1;
      return [...this.foldIsolating(events.slice(0, half), failures), ...this.foldIsolating(events.slice(half), failures)];
    }
  }

  /** The other folding versions fold what the first one folded; one that fails leaves (onFolderFailed). */
  private foldSecondaries(events: readonly StoredEvent[]): void {
    const folders = this.folders();
    for (let i = 1; i < folders.length; i++) {
      const m = folders[i]!;
      try {
        this.options.store.atomically(() => m.invokeEvents(events));
      } catch (error) {
        if (!(error instanceof GuestCallError) || isStoreFailure(error)) throw error;
        this.options.onFolderFailed?.(m, error);
      }
    }
  }

  /** What the durable hook is told of a committed group. */
  private durableGroup(results: Array<JobResult | Error>, jobs: readonly Job[]): DurableGroup {
    const stream = this.module.name;
    const events: GroupEvent[] = [];
    results.forEach((r, i) => {
      if (r instanceof Error) return;
      const origin = jobs[i]!.origin;
      for (const event of r.newEvents) events.push({ stream, origin, event });
    });
    return { events, eventsOnly: !this.directGroups.has(jobs) };
  }

  /**
   * Reads the events waiting for a fold again from the fold journal: after the store lost the held groups
   * and applied them again (their folds were lost with them).
   */
  reloadUnfolded(): void {
    const left = this.journal?.load() ?? [];
    this.settle({ unfolded: left, since: performance.now(), quarantined: [] });
  }

  private notify(results: Array<JobResult | Error>, jobs: readonly Job[]): void {
    const { onCommitted, onFolded } = this.options;
    const partitions = this.foldedBy.get(jobs);
    if (partitions && partitions.size > 0) onFolded?.(partitions);
    if (!onCommitted) return;
    const events: StoredEvent[] = [];
    const traces: unknown[] = [];
    results.forEach((r, i) => {
      if (r instanceof Error) return;
      const trace = jobs[i]!.trace;
      for (const e of r.newEvents) {
        events.push(e);
        traces.push(trace);
      }
    });
    if (events.length > 0) onCommitted(events, traces);
  }
}

function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
