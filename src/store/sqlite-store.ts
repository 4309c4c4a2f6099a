import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  StoreUnavailableError,
  type AppendOutcome,
  type GuestStore,
  type StoredEvent,
} from '../runtime/store.js';
import { StoreVersionError, toStoreError } from './errors.js';
import { configureConnection, migrate, MIGRATIONS, prepareStatements, type Statements } from './sql.js';

export interface SqliteStoreOptions {
  /** Path of the database file, created with its directory if missing. `:memory:` for a private in-memory database. */
  path: string;
  /**
   * `full` syncs the WAL to disk at every commit, so a commit survives a power cut; `normal` only survives a
   * crash of the process (a power cut may lose the last commits). Acknowledged writes must be durable: keep
   * `full` outside of tests.
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /**
   * Milliseconds a statement waits for another connection's lock before failing with `store_busy`. Calls
   * are synchronous and block the event loop while waiting, so keep this short.
   * @default 100
   */
  busyTimeoutMs?: number;
  /**
   * Largest size of the database in pages (`PRAGMA max_page_count`); a write that needs more fails with
   * `disk_full`. Use it to reserve room for the node on a shared disk, or to test a full disk.
   * @default undefined (SQLite's own limit, about 4 billion pages)
   */
  maxPageCount?: number;
  /**
   * Page size in bytes of a new database (a power of two from 512 to 65536); an existing database keeps
   * its own. Every page a commit touches is written twice (to the WAL, then by the checkpoint), so small
   * pages write fewer bytes per small commit (measured: 233 bytes per reading at 1 KiB, 298 at 2 KiB, 427 at
   * 4 KiB; bench/store-write-bytes.ts).
   * @default 1024
   */
  pageSize?: number;
  /**
   * WAL size in pages that triggers an automatic checkpoint. A page updated by many commits between two
   * checkpoints is copied into the database file once, so a larger WAL writes less; it costs disk space
   * (pages x page size: 4 MiB by default) and a longer recovery after a crash.
   * @default 4096
   */
  walAutocheckpointPages?: number;
}

/** Where a page of events ended; pass it back as `after` to read the next page. */
export interface EventCursor {
  timeMs: number;
  source: string;
}

export interface EventPage {
  /** Events in ascending `(timeMs, source)` order, source compared as UTF-8 bytes. */
  events: StoredEvent[];
  /** The cursor for the next page, or undefined when this page reached the end of the stream. */
  next: EventCursor | undefined;
}

export interface ReadEventsOptions {
  /** Start strictly after this event. @default undefined (the first event of the stream) */
  after?: EventCursor;
  /** Most events to return. @default 1000 */
  limit?: number;
}

const DEFAULTS = {
  synchronous: 'full',
  busyTimeoutMs: 100,
  pageSize: 1024,
  walAutocheckpointPages: 4096,
} as const;

/** Interned names kept in memory; past this many the cache starts over (guests choose partition names). */
const MAX_CACHED_SYMBOLS = 10_000;

/**
 * The SQLite store: kv namespaces and the deduplicated event log in one WAL-mode database.
 *
 * Writes outside {@link atomically} commit one by one. To commit many requests as one group (one WAL sync
 * for all of them), open the outermost transaction with {@link transaction} and run each request in its own
 * `atomically` inside it; acknowledge the requests only once `transaction` has returned:
 *
 * ```ts
 * const results = store.transaction(() =>
 *   batch.map((request) => {
 *     try { return { ok: store.atomically(() => handle(request)) }; }
 *     catch (error) { return { error }; } // only this request's writes were undone
 *   }),
 * );
 * // durable now; if transaction() threw, nothing of the batch was kept
 * ```
 *
 * A store failure (disk full, I/O error, busy) is thrown as a {@link StoreUnavailableError}. It also marks
 * the innermost open `atomically` as failed: that level is rolled back and throws even if its function
 * swallowed the error and returned, so a call never commits half its writes. If SQLite had to roll back the
 * whole transaction, every open level fails the same way and `transaction` throws.
 *
 * Not safe to share between threads; one process may hold several stores on one file (they lock each other
 * out of writing for at most `busyTimeoutMs`).
 */
export class SqliteStore implements GuestStore {
  private readonly symbols = new Map<string, number>();
  /** Open `atomically` levels. */
  private depth = 0;
  /** Per open level, the first store failure inside it: the level must not commit. */
  private readonly failures: (StoreUnavailableError | undefined)[] = [];
  /** Set when SQLite ended the whole transaction while levels were still open. */
  private aborted: StoreUnavailableError | undefined;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly sql: Statements,
  ) {}

  /** Opens (creating or migrating) the database at `options.path`. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const settings = {
      pageSize: options.pageSize ?? DEFAULTS.pageSize,
      synchronous: options.synchronous ?? DEFAULTS.synchronous,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs,
      walAutocheckpointPages: options.walAutocheckpointPages ?? DEFAULTS.walAutocheckpointPages,
      maxPageCount: options.maxPageCount,
    };
    const inMemory = options.path === ':memory:' || options.path === '';
    let db: Database.Database;
    try {
      if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path, { timeout: settings.busyTimeoutMs });
    } catch (error) {
      throw toStoreError(error);
    }
    try {
      configureConnection(db, settings);
      migrate(db, MIGRATIONS, (found, supported) => new StoreVersionError(found, supported));
      return new SqliteStore(db, prepareStatements(db));
    } catch (error) {
      db.close();
      throw toStoreError(error);
    }
  }

  /** Closes the database (checkpointing the WAL). Idempotent; later calls fail with `store_closed`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  atomically<T>(fn: () => T): T {
    this.enter();
    let result: T;
    try {
      result = fn();
      if (isThenable(result)) throw new TypeError('atomically: the function must be synchronous (it returned a promise)');
    } catch (error) {
      this.rollbackLevel(error);
      throw error;
    }
    this.commitLevel();
    return result;
  }

  /**
   * Runs `fn` as the outermost transaction, committed (and synced) once when `fn` returns: for grouping
   * many {@link atomically} calls into one commit. Throws if a transaction is already open.
   */
  transaction<T>(fn: () => T): T {
    if (this.depth > 0) throw new Error('transaction() opens the outermost transaction; inside one, use atomically()');
    return this.atomically(fn);
  }

  kvGet(namespace: string, key: Uint8Array): Uint8Array | undefined {
    this.check();
    try {
      const ns = this.lookup(namespace);
      return ns === undefined ? undefined : this.sql.kvGet.get(ns, toBuffer(key));
    } catch (error) {
      throw this.fail(error);
    }
  }

  kvPut(namespace: string, key: Uint8Array, value: Uint8Array): void {
    this.check();
    try {
      this.write(() => this.sql.kvPut.run(this.intern(namespace), toBuffer(key), toBuffer(value)));
    } catch (error) {
      throw this.fail(error);
    }
  }

  kvDelete(namespace: string, key: Uint8Array): boolean {
    this.check();
    try {
      const ns = this.lookup(namespace);
      return ns !== undefined && this.sql.kvDelete.run(ns, toBuffer(key)).changes > 0;
    } catch (error) {
      throw this.fail(error);
    }
  }

  kvList(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[] {
    this.check();
    const count = Math.min(Math.floor(limit), 0x7fffffff);
    if (!(count > 0)) return [];
    try {
      const ns = this.lookup(namespace);
      if (ns === undefined) return [];
      let low = toBuffer(prefix);
      if (after !== undefined) {
        // after + 0x00 is the smallest key sorting strictly after `after`.
        const successor = Buffer.concat([after, ZERO_BYTE]);
        if (Buffer.compare(successor, low) > 0) low = successor;
      }
      const high = prefixEnd(prefix);
      return high === undefined
        ? this.sql.kvListFrom.all(ns, low, count)
        : this.sql.kvListRange.all(ns, low, high, count);
    } catch (error) {
      throw this.fail(error);
    }
  }

  appendEvent(stream: string, event: StoredEvent): AppendOutcome {
    this.check();
    try {
      return this.write((): AppendOutcome => {
        const streamId = this.intern(stream);
        const { timeMs, source } = event;
        const payload = toBuffer(event.payload);
        let partition = this.lookup(event.partition);
        if (partition === undefined) {
          // No stored event can have a partition never seen: a clash is a conflict, and needs no new name.
          if (this.sql.eventByIdentity.get(streamId, timeMs, source) !== undefined) return 'conflict';
          partition = this.intern(event.partition);
        }
        if (this.sql.eventInsert.run(streamId, timeMs, source, partition, payload).changes === 1) return 'new';
        const stored = this.sql.eventByIdentity.get(streamId, timeMs, source);
        if (stored === undefined) throw new Error('event vanished between insert and read');
        return stored.partition === partition && stored.payload.equals(payload) ? 'duplicate' : 'conflict';
      });
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** One page of `stream`'s events in `(timeMs, source)` order: for replaying the log into a new module version. */
  readEvents(stream: string, options: ReadEventsOptions = {}): EventPage {
    this.check();
    const limit = Math.min(Math.floor(options.limit ?? 1000), 0x7fffffff);
    if (!(limit > 0)) return { events: [], next: options.after };
    try {
      const streamId = this.lookup(stream);
      if (streamId === undefined) return { events: [], next: undefined };
      const { after } = options;
      const events: StoredEvent[] =
        after === undefined
          ? this.sql.eventsFirst.all(streamId, limit)
          : this.sql.eventsAfter.all(streamId, after.timeMs, after.source, limit);
      const last = events[events.length - 1];
      return {
        events,
        next: events.length === limit && last !== undefined ? { timeMs: last.timeMs, source: last.source } : undefined,
      };
    } catch (error) {
      throw this.fail(error);
    }
  }

  /**
   * Every event of `stream` in `(timeMs, source)` order, read `pageSize` at a time. No statement stays open
   * between pages, so the caller may write to the store while iterating.
   */
  *iterateEvents(stream: string, pageSize = 1000): Generator<StoredEvent, void, undefined> {
    const limit = Math.max(1, pageSize);
    let after: EventCursor | undefined;
    do {
      const page = this.readEvents(stream, { after, limit });
      yield* page.events;
      after = page.next;
    } while (after !== undefined);
  }

  /** Number of events in `stream`'s log. */
  countEvents(stream: string): number {
    this.check();
    try {
      const streamId = this.lookup(stream);
      return streamId === undefined ? 0 : this.sql.eventCount.get(streamId) ?? 0;
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Number of events per stream, for every stream that has any. */
  eventCounts(): Map<string, number> {
    this.check();
    try {
      return new Map(this.sql.eventCounts.all().map((row) => [row.stream, row.count]));
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** The result of `PRAGMA integrity_check`: `'ok'`, or the problems found, one a line. */
  integrityCheck(): string {
    this.check();
    try {
      return this.sql.integrityCheck.all().join('\n');
    } catch (error) {
      throw this.fail(error);
    }
  }

  // --- transactions -----------------------------------------------------------------------------------

  private enter(): void {
    this.check();
    try {
      (this.depth === 0 ? this.sql.begin : this.sql.savepoint).run();
    } catch (error) {
      throw toStoreError(error);
    }
    this.depth++;
    this.failures.push(undefined);
  }

  private commitLevel(): void {
    const failure = this.failures[this.depth - 1];
    if (failure !== undefined) {
      this.rollbackLevel(failure);
      throw failure;
    }
    if (!this.db.inTransaction) {
      const error = this.abortedError();
      this.rollbackLevel(error);
      throw error;
    }
    try {
      (this.depth === 1 ? this.sql.commit : this.sql.release).run();
    } catch (error) {
      const mapped = toStoreError(error);
      this.rollbackLevel(mapped);
      throw mapped;
    }
    this.leave();
  }

  /** Undoes the innermost level; `reason` is what made it fail, kept for the levels around it if all is lost. */
  private rollbackLevel(reason: unknown): void {
    const top = this.depth === 1;
    this.symbols.clear();
    try {
      if (this.db.inTransaction) {
        if (top) {
          this.sql.rollback.run();
        } else {
          this.sql.rollbackTo.run();
          this.sql.release.run();
        }
      }
    } catch (undoError) {
      // This level cannot be undone alone: drop the whole transaction so nothing half-written commits.
      try {
        if (this.db.inTransaction) this.sql.rollback.run();
      } catch {
        // Nothing more can be done; the connection reports the state through inTransaction.
      }
      reason = toStoreError(undoError);
    }
    this.leave();
    if (this.depth > 0 && !this.db.inTransaction) this.aborted ??= abortedBy(reason);
  }

  private leave(): void {
    this.depth--;
    this.failures.pop();
    if (this.depth === 0) this.aborted = undefined;
  }

  /** Runs a write that may take several statements as one commit when no transaction is open. */
  private write<T>(fn: () => T): T {
    return this.depth === 0 ? this.atomically(fn) : fn();
  }

  private check(): void {
    if (this.closed) throw new StoreUnavailableError('the store is closed', 'store_closed');
    if (this.depth > 0 && !this.db.inTransaction) throw this.abortedError();
  }

  /** Translates `error`, and records a store failure against the open level so it cannot commit. */
  private fail(error: unknown): unknown {
    const mapped = toStoreError(error);
    if (mapped instanceof StoreUnavailableError && this.depth > 0) {
      const level = this.depth - 1;
      this.failures[level] ??= mapped;
      if (!this.db.inTransaction) {
        this.symbols.clear();
        this.aborted ??= abortedBy(mapped);
      }
    }
    return mapped;
  }

  private abortedError(): StoreUnavailableError {
    return (this.aborted ??= new StoreUnavailableError('the transaction was ended unexpectedly', 'transaction_aborted'));
  }

  // --- names ------------------------------------------------------------------------------------------

  private lookup(name: string): number | undefined {
    let id = this.symbols.get(name);
    if (id === undefined) {
      id = this.sql.symbolId.get(name);
      if (id !== undefined) this.remember(name, id);
    }
    return id;
  }

  private intern(name: string): number {
    let id = this.lookup(name);
    if (id === undefined) {
      id = Number(this.sql.insertSymbol.run(name).lastInsertRowid);
      this.remember(name, id);
    }
    return id;
  }

  private remember(name: string, id: number): void {
    if (this.symbols.size >= MAX_CACHED_SYMBOLS) this.symbols.clear();
    this.symbols.set(name, id);
  }
}

const ZERO_BYTE = Buffer.from([0]);

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The smallest key greater than every key starting with `prefix`, or undefined if there is none. */
function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const high = Buffer.from(prefix.subarray(0, end));
  high[end - 1] = high[end - 1]! + 1;
  return high;
}

function abortedBy(reason: unknown): StoreUnavailableError {
  const code = reason instanceof StoreUnavailableError ? reason.code : 'transaction_aborted';
  return new StoreUnavailableError(
    `the transaction was rolled back by an earlier failure (${code}); nothing in it was kept`,
    code,
    { cause: reason },
  );
}

function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
