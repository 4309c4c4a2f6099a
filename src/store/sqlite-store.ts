/**
 * The store's public face, over one module per concern, each owning its tables and statements:
 * connection.ts (open, transactions), kv-namespaces.ts, event-log.ts, fold-journal.ts, outbox.ts, digests.ts.
 */
import type { FoldJournal } from '../ingest/index.js';
import type { AppendOutcome, GuestStore, StoredEvent } from '../runtime/index.js';
import { toStoreError } from './errors.js';
import { Connection, type HoldHooks } from './connection.js';
import { Digests, type EventDigest, type EventDigestQuery } from './digests.js';
import { EventLog, type EventPage, type OnNewEvent, type ReadEventsInRangeOptions, type ReadEventsOptions } from './event-log.js';
import { FoldJournalTable, SqliteFoldJournal } from './fold-journal.js';
import { KvNamespaces } from './kv-namespaces.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { Revocations, type TokenRevocation } from './revocations.js';
import { StoreMeta } from './store-meta.js';
import { DeploymentRecords } from './deployment-records.js';
import { StoreSnapshot } from './snapshot.js';
import { StoreRetention } from './retention.js';

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

/** store_meta key of the write journal's mark. */
const JOURNAL_MARK = 'write_journal_lsn';

const DEFAULTS = {
  synchronous: 'full',
  busyTimeoutMs: 100,
  pageSize: 1024,
  walAutocheckpointPages: 4096,
} as const;

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
 * A store failure (disk full, I/O error, busy) is thrown as a StoreUnavailableError. It also marks the
 * innermost open `atomically` as failed: that level is rolled back and throws even if its function
 * swallowed the error and returned, so a call never commits half its writes. If SQLite had to roll back the
 * whole transaction, every open level fails the same way and `transaction` throws.
 *
 * Not safe to share between threads; one process may hold several stores on one file (they lock each other
 * out of writing for at most `busyTimeoutMs`).
 */
export class SqliteStore implements GuestStore {
  private readonly kv: KvNamespaces;
  private readonly log: EventLog;
  private readonly journals: FoldJournalTable;
  private readonly outbox: Outbox;
  private readonly digests: Digests;
  private readonly revocations: Revocations;
  private readonly meta: StoreMeta;
  /** What src/deploy keeps: deployment records, registry versions, history. */
  readonly deployments: DeploymentRecords;
  /** What a new local event adds for replication (undefined without it). */
  private readonly onNewLocal: OnNewEvent | undefined;
  /** What a new replicated event adds: its digest, but no outbox entry (it is not this node's to publish). */
  private readonly onNewReplicated: OnNewEvent | undefined;

  private constructor(
    private readonly conn: Connection,
    /** Whether the outbox and the digests are kept ({@link SqliteStoreOptions.replication}). */
    readonly replication: boolean,
    /** The database file. */
    readonly path: string,
  ) {
    this.kv = new KvNamespaces(conn);
    this.log = new EventLog(conn);
    this.journals = new FoldJournalTable(conn, this.log);
    this.outbox = new Outbox(conn);
    this.meta = new StoreMeta(conn.db);
    this.digests = new Digests(conn, this.meta);
    this.revocations = new Revocations(conn);
    this.deployments = new DeploymentRecords(conn);
    if (replication) {
      this.onNewReplicated = (stream, partition, event) => this.digests.add(stream, partition, event);
      this.onNewLocal = (stream, partition, event) => {
        this.digests.add(stream, partition, event);
        this.outbox.add(stream, event);
      };
    } else {
      this.digests.invalidate();
    }
  }

  /** Opens (creating or migrating) the database at `options.path`. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const conn = Connection.open({
      path: options.path,
      pageSize: options.pageSize ?? DEFAULTS.pageSize,
      synchronous: options.synchronous ?? DEFAULTS.synchronous,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs,
      walAutocheckpointPages: options.walAutocheckpointPages ?? DEFAULTS.walAutocheckpointPages,
      maxPageCount: options.maxPageCount,
    });
    try {
      return new SqliteStore(conn, options.replication ?? false, options.path);
    } catch (error) {
      conn.close();
      throw toStoreError(error);
    }
  }

  /** A small number kept by name (table `store_meta`), e.g. the fleet rollout revision applied; undefined when unset. */
  counter(name: string): number | undefined {
    return this.conn.guard(() => {
      const value = this.meta.get(`counter:${name}`);
      return typeof value === 'number' ? value : undefined;
    });
  }

  setCounter(name: string, value: number): void {
    this.conn.guard(() => this.conn.write(() => this.meta.set(`counter:${name}`, value)));
  }

  /** A read-only view of the database as it is now, held until closed (src/store/snapshot.ts). */
  snapshot(): StoreSnapshot {
    // Another connection sees only what is committed: the held groups first.
    this.conn.commitHeld();
    return new StoreSnapshot(this.path);
  }

  // --- the write journal (src/store/write-journal.ts) -------------------------------------------------

  /** The last write journal record the database holds (0: none). */
  journalMark(): number {
    return this.conn.guard(() => {
      const value = this.meta.get(JOURNAL_MARK);
      return typeof value === 'number' ? value : 0;
    });
  }

  /** Records that the database holds every journal record up to `lsn` (inside the caller's transaction). */
  setJournalMark(lsn: number): void {
    this.conn.guard(() => this.meta.set(JOURNAL_MARK, lsn));
  }

  /**
   * Writes to key-value namespaces so far (guest puts and deletes, namespace clears): a commit group that made
   * any cannot be journaled (the journal holds events only), so the write path compares this before and after.
   */
  get directWrites(): number {
    return this.directWriteCount;
  }

  private directWriteCount = 0;

  /** See Connection.holdHooks: the journal's mark before each held commit, and what applies lost groups again. */
  holdHooks(hooks: HoldHooks): void {
    this.conn.holdHooks(hooks);
  }

  /** Commits the groups held by `transaction(fn, { hold: true })` (not synced). */
  commitHeld(): void {
    this.conn.commitHeld();
  }

  /** Whether groups are held uncommitted. */
  get holding(): boolean {
    return this.conn.holding;
  }

  /** Deletes up to `limit` records of `namespace`; returns how many (0: it is empty). */
  clearNamespace(namespace: string, limit: number): number {
    this.directWriteCount++;
    return this.kv.clear(namespace, limit);
  }

  /** Closes the database (checkpointing the WAL). Idempotent; later calls fail with `store_closed`. */
  close(): void {
    this.conn.close();
  }

  atomically<T>(fn: () => T): T {
    return this.conn.atomically(fn);
  }

  /**
   * Runs `fn` as the outermost transaction, committed (and synced) once when `fn` returns: for grouping
   * many {@link atomically} calls into one commit. Throws if a transaction is already open. With `hold`, the
   * commit is held back for one large commit later ({@link commitHeld}; Connection.transaction).
   */
  transaction<T>(fn: () => T, options?: { hold?: boolean }): T {
    return this.conn.transaction(fn, options);
  }

  kvGet(namespace: string, key: Uint8Array): Uint8Array | undefined {
    return this.kv.get(namespace, key);
  }

  kvPut(namespace: string, key: Uint8Array, value: Uint8Array): void {
    this.directWriteCount++;
    this.kv.put(namespace, key, value);
  }

  kvDelete(namespace: string, key: Uint8Array): boolean {
    this.directWriteCount++;
    return this.kv.delete(namespace, key);
  }

  kvList(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[] {
    return this.kv.list(namespace, prefix, after, limit);
  }

  appendEvent(stream: string, event: StoredEvent): AppendOutcome {
    return this.log.append(stream, event, this.onNewLocal);
  }

  /**
   * As {@link appendEvent}, for an event that came from another node: it updates the digests but does not
   * go into the outbox (it is not this node's to publish).
   */
  appendReplicatedEvent(stream: string, event: StoredEvent): AppendOutcome {
    return this.log.append(stream, event, this.onNewReplicated);
  }

  /** One page of `stream`'s events in `(timeMs, source)` order: for replaying the log into a new module version. */
  readEvents(stream: string, options: ReadEventsOptions = {}): EventPage {
    return this.log.read(stream, options);
  }

  /**
   * Every event of `stream` in `(timeMs, source)` order, read `pageSize` at a time. No statement stays open
   * between pages, so the caller may write to the store while iterating.
   */
  iterateEvents(stream: string, pageSize = 1000): Generator<StoredEvent, void, undefined> {
    return this.log.iterate(stream, pageSize);
  }

  /** One page of `stream`'s events with `fromMs <= timeMs < toMs` (and of one partition), in `(timeMs, source)` order. */
  readEventsInRange(stream: string, options: ReadEventsInRangeOptions): EventPage {
    return this.log.readInRange(stream, options);
  }

  /** Number of events in `stream`'s log. */
  countEvents(stream: string): number {
    return this.log.count(stream);
  }

  /** Number of events per stream, for every stream that has any. */
  eventCounts(): Map<string, number> {
    return this.log.counts();
  }

  /** Size of the database file in bytes (pages in use and free; the WAL not counted). */
  sizeBytes(): number {
    return this.conn.sizeBytes();
  }

  /** Bytes of free pages in the database file. */
  freeBytes(): number {
    return this.conn.freeBytes();
  }

  /** Records a token revocation (by token id or by subject); idempotent. */
  revokeToken(revocation: TokenRevocation): void {
    this.revocations.add(revocation);
  }

  /** Every token revocation recorded. */
  tokenRevocations(): TokenRevocation[] {
    return this.revocations.all();
  }

  /** The result of `PRAGMA integrity_check`: `'ok'`, or the problems found, one a line. */
  integrityCheck(): string {
    return this.conn.integrityCheck();
  }

  // --- fold journal (src/ingest) ----------------------------------------------------------------------

  /** The fold journal of `stream` (a module's name), for src/ingest's IngestPipeline `journal` option. */
  foldJournal(stream: string): FoldJournal {
    return new SqliteFoldJournal(this.journals, stream);
  }

  // --- replication (src/replication ReplicationStore) -------------------------------------------------

  /** Up to `limit` outbox entries after position `after` (0: from the oldest), oldest first. */
  readOutbox(after = 0, limit = 1000): OutboxEntry[] {
    return this.outbox.read(after, limit);
  }

  /** Removes the outbox entries up to and including position `seq`; returns how many. */
  deleteOutboxThrough(seq: number): number {
    return this.outbox.deleteThrough(seq);
  }

  /** Number of entries in the outbox. Entries are deleted only from the left, so their positions are contiguous. */
  outboxDepth(): number {
    const bounds = this.outbox.bounds();
    return bounds === undefined ? 0 : bounds.last - bounds.first + 1;
  }

  /** The first and last position in the outbox, or undefined when it is empty. */
  outboxBounds(): { first: number; last: number } | undefined {
    return this.outbox.bounds();
  }

  /** Digests of `stream`'s events per (partition, minute or hour) in a range of minutes, in key order. */
  eventDigests(stream: string, query: EventDigestQuery): EventDigest[] {
    return this.digests.query(stream, query);
  }

  /**
   * Recomputes the digests of `stream` for the minutes `[fromMinute, toMinute)` from the event log, in one
   * transaction that holds the range's events in memory (call it in chunks of a few minutes). Returns the
   * number of events read.
   */
  rebuildDigests(stream: string, fromMinute: number, toMinute: number): number {
    return this.digests.rebuild(stream, fromMinute, toMinute);
  }

  /** Drops the digests of minutes before `beforeMinute` (events that old are no longer compared). */
  pruneDigests(stream: string, beforeMinute: number): void {
    this.digests.prune(stream, beforeMinute);
  }

  /**
   * True once {@link markDigestsComplete} was called and no store without `replication` opened the database
   * since: the digests then describe every event of the minutes they were rebuilt for.
   */
  digestsComplete(): boolean {
    return this.digests.complete();
  }

  /** Records that the digests were rebuilt (by a store with `replication`) down to `fromMinute`. */
  markDigestsComplete(fromMinute: number): void {
    this.digests.markComplete(fromMinute);
  }

  // --- retention (src/store/retention.ts) -------------------------------------------------------------

  private retentionOps: StoreRetention | undefined;

  /** Pruning old buckets and events, reclaiming space and the size budget, on this store's connection. */
  retention(): StoreRetention {
    return (this.retentionOps ??= new StoreRetention(this.conn));
  }
}
