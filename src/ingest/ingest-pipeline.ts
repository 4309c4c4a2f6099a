/**
 * The write path: a request goes through the guest's `ea_on_http` (validation, and the event log's
 * dedup through `event_append`), then the events that were new are folded into the guest's
 * aggregates with `ea_on_events`, all in the transaction of the request's group. A reading and its
 * aggregate update are therefore committed together or not at all, and a 2xx is sent only after
 * the commit is durable.
 */
import type { AppendOutcome, GuestHttpRequest, GuestModule, HttpCallResult, StoredEvent } from '../runtime/index.js';
import { GroupCommit, type GroupReport } from './group-commit.js';

export interface TransactionalStore {
  /** An outer transaction, durable when it returns. */
  transaction<T>(fn: () => T): T;
  /** A nested unit inside it: all or nothing. */
  atomically<T>(fn: () => T): T;
}

export interface IngestPipelineOptions {
  store: TransactionalStore;
  module: GuestModule;
  /** The most requests committed as one group. @default 1024 */
  maxGroupSize?: number;
  /** Makes a committed group durable before it is acknowledged (see GroupCommitOptions.sync). */
  sync?: () => Promise<void>;
  /**
   * Told after each committed group, with the partitions (regions) whose aggregates changed, the events
   * that were new, and the request each came from: `traces[i]` is the `trace` that `submit` was given for
   * `events[i]` (undefined for `submitEvents`).
   */
  onCommitted?: (partitions: Set<string>, events: StoredEvent[], traces: unknown[]) => void;
  onGroup?: (report: GroupReport) => void;
  /**
   * Sees each request's work and each commit group, for metrics and traces (the composition root
   * passes src/telemetry's). The pipeline never looks inside a request's `trace`. @default none
   */
  observer?: PipelineObserver;
}

/** Hooks around the write path's work (src/telemetry implements them). */
export interface PipelineObserver {
  /** Runs one request's unit of work (its guest call); `trace` is what `submit` was given. */
  job<T>(trace: unknown, fn: () => T): T;
  /** Runs a whole group's execution (its requests' work, then the fold); `traces` in job order. */
  execute<T>(traces: readonly unknown[], fn: () => T): T;
  /** After each group: its outcome and its requests' traces, in job order. */
  group(report: GroupReport, traces: readonly unknown[]): void;
}

class FoldFailed extends Error {
  override name = 'FoldFailed';
}

/** What every unit of work in a group yields: the events it added to the log that were new. */
interface JobResult {
  newEvents: StoredEvent[];
}

/** A unit of work run inside its group's transaction, and the trace of the request it serves. */
interface Job {
  /** All or nothing: when it throws, it has undone its own writes (a nested transaction). */
  run: () => JobResult;
  trace: unknown;
}

/** The outcome of events that arrived from elsewhere (another node, a replay). */
export interface EventsResult extends JobResult {
  outcomes: AppendOutcome[];
}

export class IngestPipeline {
  private readonly groups: GroupCommit<Job, JobResult>;
  private readonly module: GuestModule;

  constructor(private readonly options: IngestPipelineOptions) {
    this.module = options.module;
    this.groups = new GroupCommit({
      transaction: (fn) => options.store.transaction(fn),
      execute: (jobs) => this.execute(jobs),
      maxGroupSize: options.maxGroupSize,
      sync: options.sync,
      onGroup:
        options.onGroup || options.observer
          ? (report, jobs) => {
              options.onGroup?.(report);
              options.observer?.group(report, jobs.map((j) => j.trace));
            }
          : undefined,
      onCommitted: (results, jobs) => this.notify(results, jobs),
    });
  }

  /**
   * Handles a write request through the guest; resolves after its effects are durable. `trace` is the
   * request's telemetry scope, handed to the observer as is.
   */
  submit(request: GuestHttpRequest, trace?: unknown): Promise<HttpCallResult> {
    return this.groups.submit({ run: () => this.module.invokeHttp(request), trace }) as Promise<HttpCallResult>;
  }

  /**
   * Folds events that arrived from elsewhere through the same dedup as local ones: `append` adds
   * one to the event log (answering new, duplicate or conflict), and the new ones are folded into
   * the aggregates in the same transaction. Resolves after they are durable.
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
    }) as Promise<EventsResult>;
  }

  drain(): Promise<void> {
    return this.groups.drain();
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
    const module = this.module;
    try {
      // One fold for the whole group: each aggregate key is read and written once per group.
      return store.atomically(() => {
        // Each job's run is all or nothing by itself, so a failed job leaves nothing in the group.
        const out = jobs.map((job) => attempt(() => observe(job, job.run)));
        const events = out.flatMap((r) => (r instanceof Error ? [] : r.newEvents));
        try {
          module.invokeEvents(events);
        } catch (error) {
          throw new FoldFailed('fold of the group failed', { cause: error });
        }
        return out;
      });
    } catch (error) {
      if (!(error instanceof FoldFailed)) throw error;
      // Something in the group cannot be folded: commit each job with its own fold, so one bad
      // request fails alone.
      return jobs.map((job) =>
        attempt(() =>
          observe(job, () =>
            store.atomically(() => {
              const r = job.run();
              module.invokeEvents(r.newEvents);
              return r;
            }),
          ),
        ),
      );
    }
  }

  private notify(results: Array<JobResult | Error>, jobs: readonly Job[]): void {
    const onCommitted = this.options.onCommitted;
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
    if (events.length > 0) onCommitted(new Set(events.map((e) => e.partition)), events, traces);
  }
}

function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
