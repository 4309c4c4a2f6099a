/**
 * The write path: a request goes through the guest's `ea_on_http` (validation, and the event log's
 * dedup through `event_append`), then the events that were new are folded into the guest's
 * aggregates with `ea_on_events`, all in the transaction of the request's group. A reading and its
 * aggregate update are therefore committed together or not at all, and a 2xx is sent only after
 * the commit is durable.
 */
import type { AppendOutcome, GuestHttpRequest, GuestModule, HttpCallResult, StoredEvent } from '../runtime/index.js';
import { GroupCommit } from './group-commit.js';

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
  /** Told after each committed group, with the partitions (regions) whose aggregates changed. */
  onCommitted?: (partitions: Set<string>, events: StoredEvent[]) => void;
  onGroup?: (report: { size: number; durationMs: number; failed: boolean }) => void;
}

class FoldFailed extends Error {
  override name = 'FoldFailed';
}

/** What every unit of work in a group yields: the events it added to the log that were new. */
interface JobResult {
  newEvents: StoredEvent[];
}

/** A unit of work run inside its group's transaction. */
type Job = () => JobResult;

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
      onGroup: options.onGroup,
      onCommitted: (results) => this.notify(results),
    });
  }

  /** Handles a write request through the guest; resolves after its effects are durable. */
  submit(request: GuestHttpRequest): Promise<HttpCallResult> {
    return this.groups.submit(() => this.module.invokeHttp(request)) as Promise<HttpCallResult>;
  }

  /**
   * Folds events that arrived from elsewhere through the same dedup as local ones: `append` adds
   * one to the event log (answering new, duplicate or conflict), and the new ones are folded into
   * the aggregates in the same transaction. Resolves after they are durable.
   */
  submitEvents(events: readonly StoredEvent[], append: (event: StoredEvent) => AppendOutcome): Promise<EventsResult> {
    return this.groups.submit(() => {
      const outcomes = events.map(append);
      return { outcomes, newEvents: events.filter((_e, i) => outcomes[i] === 'new') };
    }) as Promise<EventsResult>;
  }

  drain(): Promise<void> {
    return this.groups.drain();
  }

  private execute(jobs: Job[]): Array<JobResult | Error> {
    const { store } = this.options;
    const module = this.module;
    try {
      // One fold for the whole group: each aggregate key is read and written once per group.
      return store.atomically(() => {
        const out = jobs.map((job) => attempt(() => store.atomically(job)));
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
          store.atomically(() => {
            const r = job();
            module.invokeEvents(r.newEvents);
            return r;
          }),
        ),
      );
    }
  }

  private notify(results: Array<JobResult | Error>): void {
    const onCommitted = this.options.onCommitted;
    if (!onCommitted) return;
    const events = results.flatMap((r) => (r instanceof Error ? [] : r.newEvents));
    if (events.length > 0) onCommitted(new Set(events.map((e) => e.partition)), events);
  }
}

function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
