/**
 * Builds a new module version's state in the background, so that it takes traffic only once its state is
 * whole ("Versioned state" in DESIGN.md). Each version keeps its state in its own namespace; the event log is
 * shared by all of them.
 *
 * - `rebuild`: folds every retained event of the app's log into the new version;
 * - `carry`: copies the serving version's records as they are (for a version with the same state layout:
 *   it keeps the summaries of events that retention has pruned, which no rebuild can recompute).
 *
 * Both read a snapshot of the database taken when the build begins (after folding everything committed), in
 * chunks, each written in a transaction of its own with a yield between them, so ingest goes on. Events
 * folded after the snapshot are captured as they are folded into the serving versions; once the snapshot is
 * done they are folded into the new version too, and in one synchronous step (no request in between) the
 * last of them are folded and the version joins the folding versions. Nothing is folded twice or missed.
 *
 * A build interrupted by a crash starts again from scratch: its namespace is cleared first.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { GuestModule, StoredEvent } from '../runtime/index.js';
import type { EventCursor, SqliteStore, StoreSnapshot } from '../store/index.js';

export type BuildMode = 'rebuild' | 'carry';

export interface BuildProgress {
  mode: BuildMode;
  phase: 'clearing' | 'copying' | 'folding' | 'catching-up' | 'done' | 'failed';
  /** Events folded (rebuild) or records copied (carry) from the snapshot. */
  done: number;
  /** How many the snapshot holds. */
  total: number;
  /** Events that arrived during the build, folded after the snapshot. */
  caughtUp: number;
}

/** What the builder needs of the app's write path (src/ingest's IngestPipeline). */
export interface FoldSource {
  /** Folds every committed event into the serving versions now. */
  foldNow(): void;
  /** Calls `capture` with the events of every later fold (into the serving versions), until undone. */
  captureFolds(capture: (events: readonly StoredEvent[]) => void): () => void;
}

export interface StateBuilderOptions {
  store: SqliteStore;
  /** The app's event stream. */
  stream: string;
  mode: BuildMode;
  /** The version being built. */
  target: GuestModule;
  /** The version whose records `carry` copies. */
  source?: GuestModule;
  pipeline: FoldSource;
  /** Events or records per transaction. @default 2000 */
  chunk?: number;
  /**
   * The last synchronous step: the version joins the folding versions (and the caller records it ready),
   * in the same tick as the last fold, so no event can fall between.
   */
  onCaughtUp: () => void;
  signal?: AbortSignal;
}

export class StateBuilder {
  readonly progress: BuildProgress;
  private readonly pending: StoredEvent[] = [];

  constructor(private readonly options: StateBuilderOptions) {
    if (options.mode === 'carry' && !options.source) throw new Error('carry needs a source version');
    this.progress = { mode: options.mode, phase: 'clearing', done: 0, total: 0, caughtUp: 0 };
  }

  /** Runs the build to its end; rejects (phase `failed`) when the target cannot fold or the store fails. */
  async run(): Promise<void> {
    const { store, target } = this.options;
    const chunk = this.options.chunk ?? 2000;
    try {
      while (store.clearNamespace(target.namespace, chunk * 5) > 0) await this.pause();
      // One tick: everything committed is folded, the snapshot sees exactly that, and every later fold is captured.
      this.options.pipeline.foldNow();
      const snapshot = store.snapshot();
      const stopCapture = this.options.pipeline.captureFolds((events) => this.pending.push(...events));
      try {
        if (this.options.mode === 'carry') await this.copy(snapshot, chunk);
        else await this.fold(snapshot, chunk);
        snapshot.close();
        this.progress.phase = 'catching-up';
        while (this.pending.length > chunk) {
          this.foldInto(this.pending.splice(0, chunk));
          await this.pause();
        }
        // The last step, synchronous: nothing can be folded between these lines.
        this.options.pipeline.foldNow();
        this.foldInto(this.pending.splice(0));
        stopCapture();
        this.options.onCaughtUp();
        this.progress.phase = 'done';
      } finally {
        stopCapture();
        snapshot.close();
      }
    } catch (error) {
      this.progress.phase = 'failed';
      throw error;
    }
  }

  private async copy(snapshot: StoreSnapshot, chunk: number): Promise<void> {
    const { store, target, source } = this.options;
    this.progress.phase = 'copying';
    this.progress.total = snapshot.countKv(source!.namespace);
    let after: Uint8Array = new Uint8Array(0);
    for (;;) {
      await this.pause();
      const entries = snapshot.kv(source!.namespace, after, chunk);
      if (entries.length === 0) return;
      store.transaction(() => {
        for (const e of entries) store.kvPut(target.namespace, e.key, e.value);
      });
      this.progress.done += entries.length;
      after = entries[entries.length - 1]!.key;
    }
  }

  private async fold(snapshot: StoreSnapshot, chunk: number): Promise<void> {
    const { stream } = this.options;
    this.progress.phase = 'folding';
    this.progress.total = snapshot.countEvents(stream);
    let after: EventCursor | undefined;
    for (;;) {
      await this.pause();
      const events = snapshot.events(stream, after, chunk);
      if (events.length === 0) return;
      this.options.store.transaction(() => this.options.target.invokeEvents(events));
      this.progress.done += events.length;
      const last = events[events.length - 1]!;
      after = { timeMs: last.timeMs, source: last.source };
    }
  }

  /** Folds captured events into the new version (in a transaction when none is open). */
  private foldInto(events: StoredEvent[]): void {
    if (events.length === 0) return;
    this.options.store.transaction(() => this.options.target.invokeEvents(events));
    this.progress.caughtUp += events.length;
  }

  /** Lets requests run between chunks; an abort ends the build. */
  private async pause(): Promise<void> {
    await yieldToEvents();
    this.options.signal?.throwIfAborted();
  }
}
