import { hash as oneShotHash } from 'node:crypto';
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
  /**
   * Keep what replication (src/replication) needs, in the transaction of each write: every new event a guest
   * appends with {@link SqliteStore.appendEvent} also goes into the outbox, and every new event (local or
   * from {@link SqliteStore.appendReplicatedEvent}) updates the digest of its (stream, minute, partition).
   * Off, the store writes exactly what it wrote before replication existed (a node that runs alone).
   * @default false
   */
  replication?: boolean;
}

/** One outbox entry: an event a guest appended locally, not yet acknowledged by the fleet's transport. */
export interface OutboxEntry {
  /** Position in the outbox; entries are read and deleted in this order. */
  seq: number;
  stream: string;
  /** The event, or undefined when it is no longer in the event log (nothing to send). */
  event: StoredEvent | undefined;
}

/** The digest of the events of one (partition, bucket): their count and the sum of their hashes. */
export interface EventDigest {
  partition: string;
  /** Minutes (or hours) since the Unix epoch, by the event time. */
  bucket: number;
  count: number;
  /** Two 32-bit lanes of the sum, mod 2^32, of the events' {@link eventHash}. */
  h1: number;
  h2: number;
}

export interface EventDigestQuery {
  /** `minute` (buckets of 60 s) or `hour` (sums of the minute digests). */
  level: 'minute' | 'hour';
  /** First minute (since the epoch) included. */
  fromMinute: number;
  /** First minute not included. */
  toMinute: number;
  /** Only this partition. @default every partition */
  partition?: string;
}

export interface ReadEventsInRangeOptions {
  fromMs: number;
  /** Exclusive. */
  toMs: number;
  /** Only this partition. @default every partition */
  partition?: string;
  after?: EventCursor;
  /** @default 1000 */
  limit?: number;
}

/** Milliseconds per digest bucket. */
export const DIGEST_BUCKET_MS = 60_000;

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
    /** Whether the outbox and the digests are kept ({@link SqliteStoreOptions.replication}). */
    readonly replication: boolean = false,
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
      const sql = prepareStatements(db);
      if (!options.replication) invalidateDigests(sql);
      return new SqliteStore(db, sql, options.replication ?? false);
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
    return this.append(stream, event, true);
  }

  /**
   * As {@link appendEvent}, for an event that came from another node: it updates the digests but does not
   * go into the outbox (it is not this node's to publish).
   */
  appendReplicatedEvent(stream: string, event: StoredEvent): AppendOutcome {
    return this.append(stream, event, false);
  }

  private append(stream: string, event: StoredEvent, local: boolean): AppendOutcome {
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
        if (this.sql.eventInsert.run(streamId, timeMs, source, partition, payload).changes === 1) {
          if (this.replication) this.replicate(streamId, partition, event, local);
          return 'new';
        }
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

  // --- fold journal -----------------------------------------------------------------------------------
  // Events of the log whose fold into the aggregates is deferred (src/ingest/ingest-pipeline.ts): written
  // in the transaction that appends them, cleared in the transaction that folds them.

  /** Records `events` (already in `stream`'s log) as not yet folded. */
  journalAppend(stream: string, events: readonly StoredEvent[]): void {
    if (events.length === 0) return;
    this.check();
    try {
      const identities = JSON.stringify(events.map((e) => [e.timeMs, e.source]));
      this.write(() => this.sql.journalInsert.run(this.intern(stream), identities));
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** The events recorded as not yet folded, oldest first, read back from the log. */
  journalEvents(stream: string): StoredEvent[] {
    this.check();
    try {
      const streamId = this.lookup(stream);
      if (streamId === undefined) return [];
      const names = new Map<number, string>();
      const events: StoredEvent[] = [];
      for (const row of this.sql.journalOf.all(streamId)) {
        for (const [timeMs, source] of JSON.parse(row) as Array<[number, string]>) {
          const stored = this.sql.eventByIdentity.get(streamId, timeMs, source);
          // The journal is written with the events it names, so this is a damaged database.
          if (stored === undefined) throw new Error(`the fold journal names an event not in the log: ${source} at ${timeMs}`);
          events.push({ partition: this.symbolName(stored.partition, names), source, timeMs, payload: stored.payload });
        }
      }
      return events;
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Forgets every event recorded as not yet folded in `stream`. */
  journalClear(stream: string): void {
    this.check();
    try {
      const streamId = this.lookup(stream);
      if (streamId !== undefined) this.write(() => this.sql.journalClear.run(streamId));
    } catch (error) {
      throw this.fail(error);
    }
  }

  // --- replication ------------------------------------------------------------------------------------

  /** Up to `limit` outbox entries after position `after` (0: from the oldest), oldest first. */
  readOutbox(after = 0, limit = 1000): OutboxEntry[] {
    this.check();
    try {
      return this.sql.outboxFrom.all(after + 1, Math.max(1, Math.floor(limit))).map((row) => ({
        seq: row.seq,
        stream: row.stream,
        event:
          row.partition === null || row.payload === null
            ? undefined
            : { partition: row.partition, source: row.source, timeMs: row.timeMs, payload: row.payload },
      }));
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Removes the outbox entries up to and including position `seq`; returns how many. */
  deleteOutboxThrough(seq: number): number {
    this.check();
    try {
      return this.write(() => this.sql.outboxDeleteThrough.run(seq).changes);
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Number of entries in the outbox. Entries are deleted only from the left, so their positions are contiguous. */
  outboxDepth(): number {
    const bounds = this.outboxBounds();
    return bounds === undefined ? 0 : bounds.last - bounds.first + 1;
  }

  /** The first and last position in the outbox, or undefined when it is empty. */
  outboxBounds(): { first: number; last: number } | undefined {
    this.check();
    try {
      const row = this.sql.outboxBounds.get();
      return row === undefined || row.first === null || row.last === null ? undefined : { first: row.first, last: row.last };
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Digests of `stream`'s events per (partition, minute or hour) in a range of minutes, in key order. */
  eventDigests(stream: string, query: EventDigestQuery): EventDigest[] {
    this.check();
    try {
      const streamId = this.lookup(stream);
      if (streamId === undefined) return [];
      let partition: number | undefined;
      if (query.partition !== undefined) {
        partition = this.lookup(query.partition);
        if (partition === undefined) return [];
      }
      const rows = this.sql.replicationRange.all(digestBound(streamId, query.fromMinute), digestBound(streamId, query.toMinute));
      const names = new Map<number, string>();
      const minutes: EventDigest[] = [];
      for (const row of rows) {
        const key = parseDigestKey(row.k);
        if (partition !== undefined && key.partition !== partition) continue;
        minutes.push({ partition: this.symbolName(key.partition, names), bucket: key.minute, count: row.n ?? 0, h1: row.a ?? 0, h2: row.b ?? 0 });
      }
      return query.level === 'hour' ? sumByHour(minutes) : minutes;
    } catch (error) {
      throw this.fail(error);
    }
  }

  /**
   * Recomputes the digests of `stream` for the minutes `[fromMinute, toMinute)` from the event log, in one
   * transaction that holds the range's events in memory (call it in chunks of a few minutes). Returns the
   * number of events read.
   */
  rebuildDigests(stream: string, fromMinute: number, toMinute: number): number {
    this.check();
    try {
      return this.write(() => {
        const streamId = this.lookup(stream);
        if (streamId === undefined) return 0;
        this.sql.replicationDeleteRange.run(digestBound(streamId, fromMinute), digestBound(streamId, toMinute));
        const sums = new Map<string, { minute: number; partition: number; count: number; h1: number; h2: number }>();
        const names = new Map<number, string>();
        const rows = this.sql.eventsForDigest.all(streamId, Math.max(0, fromMinute) * DIGEST_BUCKET_MS, Math.max(0, toMinute) * DIGEST_BUCKET_MS);
        for (const row of rows) {
          const partition = this.symbolName(row.partition, names);
          const [h1, h2] = eventHash({ partition, source: row.source, timeMs: row.timeMs, payload: row.payload });
          const minute = Math.floor(row.timeMs / DIGEST_BUCKET_MS);
          const key = `${minute}:${row.partition}`;
          const sum = sums.get(key);
          if (sum === undefined) sums.set(key, { minute, partition: row.partition, count: 1, h1, h2 });
          else {
            sum.count++;
            sum.h1 = (sum.h1 + h1) % 2 ** 32;
            sum.h2 = (sum.h2 + h2) % 2 ** 32;
          }
        }
        for (const d of sums.values()) this.sql.replicationPut.run(digestKey(streamId, d.minute, d.partition), d.count, d.h1, d.h2);
        return rows.length;
      });
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Drops the digests of minutes before `beforeMinute` (events that old are no longer compared). */
  pruneDigests(stream: string, beforeMinute: number): void {
    this.check();
    try {
      const streamId = this.lookup(stream);
      if (streamId !== undefined) this.write(() => this.sql.replicationDeleteRange.run(digestBound(streamId, 0), digestBound(streamId, beforeMinute)));
    } catch (error) {
      throw this.fail(error);
    }
  }

  /**
   * True once {@link markDigestsComplete} was called and no store without `replication` opened the database
   * since: the digests then describe every event of the minutes they were rebuilt for.
   */
  digestsComplete(): boolean {
    this.check();
    try {
      return this.sql.replicationGet.get(DIGESTS_COMPLETE_KEY) !== undefined;
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Records that the digests were rebuilt (by a store with `replication`) down to `fromMinute`. */
  markDigestsComplete(fromMinute: number): void {
    this.check();
    try {
      this.write(() => this.sql.replicationPut.run(DIGESTS_COMPLETE_KEY, fromMinute, null, null));
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** One page of `stream`'s events with `fromMs <= timeMs < toMs` (and of one partition), in `(timeMs, source)` order. */
  readEventsInRange(stream: string, options: ReadEventsInRangeOptions): EventPage {
    this.check();
    const limit = Math.min(Math.floor(options.limit ?? 1000), 0x7fffffff);
    if (!(limit > 0)) return { events: [], next: options.after };
    try {
      const streamId = this.lookup(stream);
      if (streamId === undefined) return { events: [], next: undefined };
      // Before every event of the range: time fromMs - 1 sorts before any event at fromMs.
      const after = options.after ?? { timeMs: options.fromMs - 1, source: '' };
      let events: StoredEvent[];
      if (options.partition !== undefined) {
        const partition = this.lookup(options.partition);
        if (partition === undefined) return { events: [], next: undefined };
        events = this.sql.eventsOfPartitionInRangeAfter.all(streamId, options.fromMs, options.toMs, after.timeMs, after.source, partition, limit);
      } else {
        events = this.sql.eventsInRangeAfter.all(streamId, options.fromMs, options.toMs, after.timeMs, after.source, limit);
      }
      const last = events[events.length - 1];
      return {
        events,
        next: events.length === limit && last !== undefined ? { timeMs: last.timeMs, source: last.source } : undefined,
      };
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** The replication rows of a new event: its digest, and (a local event) its outbox entry. */
  private replicate(streamId: number, partition: number, event: StoredEvent, local: boolean): void {
    const [h1, h2] = eventHash(event);
    this.sql.digestAdd.run(digestKey(streamId, Math.floor(event.timeMs / DIGEST_BUCKET_MS), partition), h1, h2);
    if (local) this.sql.outboxInsert.run(streamId, event.timeMs, event.source);
  }

  private symbolName(id: number, names: Map<number, string>): string {
    let name = names.get(id);
    if (name === undefined) {
      name = this.sql.symbolName.get(id);
      if (name === undefined) throw new Error(`no symbol ${id}`);
      names.set(id, name);
    }
    return name;
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

/** Scratch space for {@link eventHash}: the largest event (128-byte source, 64-byte partition, 4 KiB payload) fits. */
const HASH_INPUT = Buffer.allocUnsafe(16 * 1024);

/**
 * The hash of an event that digests sum: SHA-256 over `u16 source length, source, f64 time (big-endian),
 * u16 partition length, partition, payload` (strings as UTF-8), read as two little-endian u32 lanes. Every
 * node computes the same value for the same event, so equal digests mean (with overwhelming probability)
 * equal sets of events.
 */
export function eventHash(event: StoredEvent): [number, number] {
  let at = 0;
  const source = Buffer.byteLength(event.source, 'utf8');
  const partition = Buffer.byteLength(event.partition, 'utf8');
  const size = 2 + source + 8 + 2 + partition + event.payload.length;
  const input = size <= HASH_INPUT.length ? HASH_INPUT : Buffer.allocUnsafe(size);
  at = input.writeUInt16BE(source, at);
  at += input.write(event.source, at, 'utf8');
  at = input.writeDoubleBE(event.timeMs, at);
  at = input.writeUInt16BE(partition, at);
  at += input.write(event.partition, at, 'utf8');
  input.set(event.payload, at);
  const digest = oneShotHash('sha256', input.subarray(0, size), 'buffer');
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/**
 * A store without replication does not update the digests, so once it may write they no longer describe
 * every event: the next store with replication rebuilds them. A database that cannot be read here fails
 * at its first real use instead, as it did before replication existed.
 */
function invalidateDigests(sql: Statements): void {
  try {
    if (sql.replicationGet.get(DIGESTS_COMPLETE_KEY) !== undefined) sql.replicationDelete.run(DIGESTS_COMPLETE_KEY);
  } catch {
    // Corrupt or busy: reported by the operation that needs the data.
  }
}

// --- replication keys: the first byte says what a row of `replication_state` is (sql.ts, migration 2) ----

const DIGEST = 0x64; // 'd' + u32 stream + u64 minute + u32 partition (big-endian, so keys sort by number)
const META = 0x6d; // 'm' + name
const DIGESTS_COMPLETE_KEY = Buffer.concat([Buffer.from([META]), Buffer.from('digests_complete')]);

function writeU64(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buffer.writeUInt32BE(value % 2 ** 32, at + 4);
}

function readU64(buffer: Buffer, at: number): number {
  return buffer.readUInt32BE(at) * 2 ** 32 + buffer.readUInt32BE(at + 4);
}

function digestKey(stream: number, minute: number, partition: number): Buffer {
  const key = Buffer.allocUnsafe(17);
  key[0] = DIGEST;
  key.writeUInt32BE(stream, 1);
  writeU64(key, minute, 5);
  key.writeUInt32BE(partition, 13);
  return key;
}

/** Sorts before every digest of `stream` at `minute` or later. */
function digestBound(stream: number, minute: number): Buffer {
  const key = Buffer.allocUnsafe(13);
  key[0] = DIGEST;
  key.writeUInt32BE(stream, 1);
  writeU64(key, Math.min(Math.max(0, minute), Number.MAX_SAFE_INTEGER), 5);
  return key;
}

function parseDigestKey(key: Buffer): { minute: number; partition: number } {
  return { minute: readU64(key, 5), partition: key.readUInt32BE(13) };
}

/** Sums minute digests into hour digests, per partition. */
function sumByHour(minutes: EventDigest[]): EventDigest[] {
  const hours = new Map<string, EventDigest>();
  for (const m of minutes) {
    const bucket = Math.floor(m.bucket / 60);
    const key = `${bucket}\n${m.partition}`;
    const hour = hours.get(key);
    if (hour === undefined) hours.set(key, { ...m, bucket });
    else {
      hour.count += m.count;
      hour.h1 = (hour.h1 + m.h1) % 2 ** 32;
      hour.h2 = (hour.h2 + m.h2) % 2 ** 32;
    }
  }
  return [...hours.values()];
}

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
