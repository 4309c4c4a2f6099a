/**
 * What the write path (./ingest-pipeline.ts) is given: the store it commits to, the hooks that make a group
 * durable and observe it, the fold journal, and its settings.
 */
import type { GuestModule, StoredEvent } from '../runtime/index.js';
import type { GroupReport } from './group-commit.js';

export interface TransactionalStore {
  /**
   * An outer transaction, durable when it returns; with `hold`, left uncommitted for one large commit later
   * (the durable hook then makes each group durable by other means).
   */
  transaction<T>(fn: () => T, options?: { hold?: boolean }): T;
  /** A nested unit inside it: all or nothing. */
  atomically<T>(fn: () => T): T;
  /** Writes other than event appends so far (key-value puts and deletes): see DurableGroup.eventsOnly. */
  readonly directWrites?: number;
}

/** An event a commit group added to its stream's log: from a guest here (`local`) or from another node. */
export interface GroupEvent {
  stream: string;
  origin: 'local' | 'replicated';
  event: StoredEvent;
}

/** A committed group, as its durable hook sees it. */
export interface DurableGroup {
  /** The events that were new in it, in order. */
  events: GroupEvent[];
  /**
   * Whether everything the group changed follows from `events` (its requests wrote no key-value records
   * themselves; its fold, if it folded, is made again from the fold journal): a record of its events is then
   * enough to redo it.
   */
  eventsOnly: boolean;
}

/** The durable record of committed events whose fold is deferred (SqliteStore's `journal*` methods). */
export interface FoldJournal {
  /** Records events (already in the log) as not yet folded, in the current transaction. */
  append(events: readonly StoredEvent[]): void;
  /** Every event recorded and not cleared, oldest first: at start, what a crash left unfolded. */
  load(): StoredEvent[];
  /** Forgets every recorded event, in the current transaction. */
  clear(): void;
}

export interface IngestPipelineOptions {
  store: TransactionalStore;
  /** The guest that answers writes by default and folds events (the stable version). */
  module: GuestModule;
  /**
   * Every version that folds the app's events, `module` first: a canary keeps its own state whole, so that
   * a rollback or a promotion loses nothing. Called at each fold (the set changes as versions come and go).
   * @default [module]
   */
  folders?: () => readonly GuestModule[];
  /**
   * Told (synchronously, inside the fold) when a version other than the first fails to fold events: it must
   * leave `folders` at once, its state no longer whole. The first version's failures are isolated instead.
   */
  onFolderFailed?: (module: GuestModule, error: unknown) => void;
  /** The most requests committed as one group. @default 1024 */
  maxGroupSize?: number;
  /** Makes a committed group durable before it is acknowledged (see GroupCommitOptions.sync). */
  sync?: (group: DurableGroup) => Promise<void>;
  /**
   * Whether the next group or fold runs as a savepoint of a transaction held open for one large commit later
   * (the store's `transaction(fn, { hold: true })`), `sync` making each group durable meanwhile. Asked at each
   * transaction. @default never
   */
  holdTransactions?: () => boolean;
  /** How long a group may wait for more requests (see GroupCommitOptions.windowMs). @default 0 */
  commitWindowMs?: number;
  /** Whether more requests may still join an open window (see GroupCommitOptions.moreMayCome). */
  moreMayCome?: (waiting: number) => boolean;
  /** Where deferred folds are recorded; without one, every group folds its own events. */
  journal?: FoldJournal;
  /** How long a committed event may wait for its fold (with a `journal`); 0: folded in its group. @default 0 */
  foldDelayMs?: number;
  /**
   * Told after each durable group with the events that were new, and the request each came from: `traces[i]`
   * is the `trace` that `submit` was given for `events[i]` (undefined for `submitEvents`).
   */
  onCommitted?: (events: StoredEvent[], traces: unknown[]) => void;
  /** Told after a fold with the partitions (regions) whose aggregates changed. */
  onFolded?: (partitions: Set<string>) => void;
  /**
   * Told when events could not be folded: `retry` true when the store failed (they wait for the next fold;
   * told once until a fold succeeds), false when the guest failed on them (they stay in the journal, folded
   * again at the next start).
   */
  onFoldFailed?: (error: unknown, events: readonly StoredEvent[], retry: boolean) => void;
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
  /** Runs a whole group's execution (its requests' work, then any fold); `traces` in job order. */
  execute<T>(traces: readonly unknown[], fn: () => T): T;
  /** After each group: its outcome and its requests' traces, in job order. */
  group(report: GroupReport, traces: readonly unknown[]): void;
}
