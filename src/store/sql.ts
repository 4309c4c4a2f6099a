/**
 * Every SQL statement of the store: the schema as a list of migrations, the connection's pragmas, and one
 * factory that prepares the statements once per connection.
 *
 * Write amplification drives the layout. Each commit appends every page it touched to the WAL and a
 * checkpoint later writes each of them once more into the database file, so the cost of a write is the
 * number of distinct pages it dirties, not the bytes it changes:
 * - `event` is one WITHOUT ROWID B-tree keyed `(stream, time_ms, source)`: current events land at its right
 *   edge, a batch of them shares a few leaf pages, and the dedup lookup is that same key (no second index).
 * - stream, partition and namespace names are interned into small integers in `symbol`, so rows stay small
 *   (a reading is about 40 bytes) and many fit on a page.
 * - `kv` is a rowid table with a unique index on `(ns, key)`, not a WITHOUT ROWID table: a WITHOUT ROWID
 *   (index) B-tree keeps at most about a quarter of a page of a row inline (231 bytes on 1 KiB pages) and
 *   spills the rest to overflow pages, each one more page per update; a rowid table keeps up to a whole page
 *   inline. Overwriting a value rewrites only its table leaf (the index does not change), and rows written
 *   together (an aggregator's buckets of one minute) are neighbours in rowid order.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  /** The `PRAGMA user_version` the database has once this migration ran. */
  readonly version: number;
  readonly sql: string;
}

/**
 * The schema, one migration per version, applied in order inside one transaction. Never edit a migration
 * that has shipped: append a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE symbol (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
      ) STRICT;

      CREATE TABLE kv (
        id    INTEGER PRIMARY KEY,
        ns    INTEGER NOT NULL,
        key   BLOB NOT NULL,
        value BLOB NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX kv_by_key ON kv (ns, key);

      CREATE TABLE event (
        stream    INTEGER NOT NULL,
        time_ms   INTEGER NOT NULL,
        source    TEXT NOT NULL,
        partition INTEGER NOT NULL,
        payload   BLOB NOT NULL,
        PRIMARY KEY (stream, time_ms, source)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // Replication (src/replication), written only by a store opened with `replication: true`.
    // - `replication_outbox`: the identity of each event a guest appended locally, in commit order. A rowid
    //   table appended at its right edge (SQLite fills such pages completely) and deleted from its left,
    //   in bulk, once JetStream acknowledged the events: a commit dirties one or two leaf pages of it.
    //   Partition and payload are read from `event` by key when the entry is sent.
    // - `replication_state`: rows keyed by bytes whose first byte says what they are (sqlite-store.ts,
    //   "replication keys"): 'd' digests, per (stream, minute of the event time, partition) the count `n`
    //   and two 32-bit lanes `a`, `b` of the sum (mod 2^32) of the events' hashes, updated with each new
    //   event, local or replicated, keyed so that a batch's rows are neighbours; 'm' small facts, e.g.
    //   whether the digests cover every event.
    version: 2,
    sql: `
      CREATE TABLE replication_outbox (seq INTEGER PRIMARY KEY, stream INT NOT NULL, time_ms INT NOT NULL, source TEXT NOT NULL) STRICT;
      CREATE TABLE replication_state (k BLOB PRIMARY KEY, n INT, a INT, b INT) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // The fold journal (src/ingest): events committed to the log whose fold into the aggregates is deferred,
    // one row per commit group, as a JSON array of identities `[time_ms, source]`. A fold deletes the rows in
    // its own transaction, so after a crash the rows left are exactly the events still to fold. A rowid table
    // appended at its right edge and emptied whole: a deferring commit dirties one leaf page of it.
    version: 3,
    sql: `
      CREATE TABLE fold_journal (seq INTEGER PRIMARY KEY, stream INT NOT NULL, identities TEXT NOT NULL) STRICT;
    `,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Bytes a WAL may keep on disk after a checkpoint, so one huge transaction does not pin its size forever. */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;

export interface ConnectionSettings {
  pageSize: number;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  walAutocheckpointPages: number;
  maxPageCount: number | undefined;
}

/** Applies the connection's pragmas. `page_size` only takes effect on a database that has no pages yet. */
export function configureConnection(db: Database.Database, settings: ConnectionSettings): void {
  db.pragma(`page_size = ${Math.trunc(settings.pageSize)}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`busy_timeout = ${Math.trunc(settings.busyTimeoutMs)}`);
  db.pragma(`wal_autocheckpoint = ${Math.trunc(settings.walAutocheckpointPages)}`);
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  // Temporary B-trees (sorting, GROUP BY) stay off the disk.
  db.pragma('temp_store = MEMORY');
  if (settings.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.trunc(settings.maxPageCount)}`);
}

export function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database to the last version of `migrations` in one IMMEDIATE transaction (a second process
 * opening the same file waits, then sees the migrated schema). Returns the version found before, or throws
 * `tooNew(found)` when the file was written by a newer version of this code.
 */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[],
  tooNew: (found: number, supported: number) => Error,
): number {
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  db.exec('BEGIN IMMEDIATE');
  try {
    const found = userVersion(db);
    if (found > latest) throw tooNew(found, latest);
    for (const migration of migrations) {
      if (migration.version <= found) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${Math.trunc(migration.version)}`);
    }
    db.exec('COMMIT');
    return found;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

export interface EventRow {
  timeMs: number;
  source: string;
  partition: string;
  payload: Buffer;
}

export interface StoredIdentityRow {
  partition: number;
  payload: Buffer;
}

/** The store's statements, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT atomically'),
    release: db.prepare('RELEASE atomically'),
    rollbackTo: db.prepare('ROLLBACK TO atomically'),

    symbolId: db.prepare<[name: string], number>('SELECT id FROM symbol WHERE name = ?').pluck(),
    insertSymbol: db.prepare<[name: string]>('INSERT INTO symbol (name) VALUES (?)'),

    kvGet: db.prepare<[ns: number, key: Buffer], Buffer>('SELECT value FROM kv WHERE ns = ? AND key = ?').pluck(),
    kvPut: db.prepare<[ns: number, key: Buffer, value: Buffer]>(
      'INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value',
    ),
    kvDelete: db.prepare<[ns: number, key: Buffer]>('DELETE FROM kv WHERE ns = ? AND key = ?'),
    /** Keys from `low` (inclusive) to the end of the namespace. */
    kvListFrom: db
      .prepare<[ns: number, low: Buffer, limit: number], Buffer>(
        'SELECT key FROM kv WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?',
      )
      .pluck(),
    /** Keys from `low` (inclusive) to `high` (exclusive). */
    kvListRange: db
      .prepare<[ns: number, low: Buffer, high: Buffer, limit: number], Buffer>(
        'SELECT key FROM kv WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?',
      )
      .pluck(),

    eventInsert: db.prepare<[stream: number, timeMs: number, source: string, partition: number, payload: Buffer]>(
      `INSERT INTO event (stream, time_ms, source, partition, payload) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (stream, time_ms, source) DO NOTHING`,
    ),
    eventByIdentity: db.prepare<[stream: number, timeMs: number, source: string], StoredIdentityRow>(
      'SELECT partition, payload FROM event WHERE stream = ? AND time_ms = ? AND source = ?',
    ),
    eventsFirst: db.prepare<[stream: number, limit: number], EventRow>(
      `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
       FROM event e JOIN symbol p ON p.id = e.partition
       WHERE e.stream = ? ORDER BY e.time_ms, e.source LIMIT ?`,
    ),
    eventsAfter: db.prepare<[stream: number, timeMs: number, source: string, limit: number], EventRow>(
      `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
       FROM event e JOIN symbol p ON p.id = e.partition
       WHERE e.stream = ? AND (e.time_ms, e.source) > (?, ?) ORDER BY e.time_ms, e.source LIMIT ?`,
    ),
    eventCount: db.prepare<[stream: number], number>('SELECT count(*) FROM event WHERE stream = ?').pluck(),
    eventCounts: db.prepare<[], { stream: string; count: number }>(
      `SELECT s.name AS stream, count(*) AS count FROM event e JOIN symbol s ON s.id = e.stream
       GROUP BY e.stream ORDER BY s.name`,
    ),

    integrityCheck: db.prepare<[], string>('PRAGMA integrity_check').pluck(),

    // --- fold journal (migration 3) ---------------------------------------------------------------------

    journalInsert: db.prepare<[stream: number, identities: string]>('INSERT INTO fold_journal (stream, identities) VALUES (?, ?)'),
    journalOf: db.prepare<[stream: number], string>('SELECT identities FROM fold_journal WHERE stream = ? ORDER BY seq').pluck(),
    journalClear: db.prepare<[stream: number]>('DELETE FROM fold_journal WHERE stream = ?'),

    // --- replication (migration 2): keys are built in sqlite-store.ts -----------------------------------

    symbolName: db.prepare<[id: number], string>('SELECT name FROM symbol WHERE id = ?').pluck(),
    /** Rows with `low <= k < high`, in key order. */
    replicationRange: db.prepare<[low: Buffer, high: Buffer], ReplicationRow>(
      'SELECT k, n, a, b FROM replication_state WHERE k >= ? AND k < ? ORDER BY k',
    ),
    replicationDeleteRange: db.prepare<[low: Buffer, high: Buffer]>('DELETE FROM replication_state WHERE k >= ? AND k < ?'),
    replicationPut: db.prepare<[k: Buffer, n: number | null, a: number | null, b: number | null]>(
      'INSERT OR REPLACE INTO replication_state (k, n, a, b) VALUES (?, ?, ?, ?)',
    ),
    outboxInsert: db.prepare<[stream: number, timeMs: number, source: string]>(
      'INSERT INTO replication_outbox (stream, time_ms, source) VALUES (?, ?, ?)',
    ),
    /** The oldest entries from position `seq` on, with their event (null columns when it is no longer in the log). */
    outboxFrom: db.prepare<[seq: number, limit: number], OutboxRow>(
      `SELECT o.seq AS seq, s.name AS stream, o.time_ms AS timeMs, o.source AS source, p.name AS partition, e.payload AS payload
       FROM replication_outbox o
       JOIN symbol s ON s.id = o.stream
       LEFT JOIN event e ON e.stream = o.stream AND e.time_ms = o.time_ms AND e.source = o.source
       LEFT JOIN symbol p ON p.id = e.partition
       WHERE o.seq >= ? ORDER BY o.seq LIMIT ?`,
    ),
    outboxDeleteThrough: db.prepare<[seq: number]>('DELETE FROM replication_outbox WHERE seq <= ?'),
    /** Both ends of the outbox (nulls when it is empty): two lookups in the rowid B-tree, no scan. */
    outboxBounds: db.prepare<[], { first: number | null; last: number | null }>(
      'SELECT min(seq) AS first, max(seq) AS last FROM replication_outbox',
    ),
    replicationGet: db.prepare<[k: Buffer], ReplicationRow>('SELECT k, n, a, b FROM replication_state WHERE k = ?'),
    replicationDelete: db.prepare<[k: Buffer]>('DELETE FROM replication_state WHERE k = ?'),
    /** One more event in a digest. */
    digestAdd: db.prepare<[k: Buffer, a: number, b: number]>(
      `INSERT INTO replication_state (k, n, a, b) VALUES (?, 1, ?, ?)
       ON CONFLICT (k) DO UPDATE SET n = n + 1, a = (a + excluded.a) % 4294967296, b = (b + excluded.b) % 4294967296`,
    ),
    /** Events of one stream with `from <= time_ms < to`, in key order, for rebuilding digests. */
    eventsForDigest: db.prepare<[stream: number, fromMs: number, toMs: number], EventDigestRow>(
      `SELECT time_ms AS timeMs, source, partition, payload FROM event
       WHERE stream = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms, source`,
    ),
    eventsInRangeAfter: db.prepare<
      [stream: number, fromMs: number, toMs: number, timeMs: number, source: string, limit: number],
      EventRow
    >(
      `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
       FROM event e JOIN symbol p ON p.id = e.partition
       WHERE e.stream = ? AND e.time_ms >= ? AND e.time_ms < ? AND (e.time_ms, e.source) > (?, ?)
       ORDER BY e.time_ms, e.source LIMIT ?`,
    ),
    eventsOfPartitionInRangeAfter: db.prepare<
      [stream: number, fromMs: number, toMs: number, timeMs: number, source: string, partition: number, limit: number],
      EventRow
    >(
      `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
       FROM event e JOIN symbol p ON p.id = e.partition
       WHERE e.stream = ? AND e.time_ms >= ? AND e.time_ms < ? AND (e.time_ms, e.source) > (?, ?) AND e.partition = ?
       ORDER BY e.time_ms, e.source LIMIT ?`,
    ),
  };
}

export interface OutboxRow {
  seq: number;
  stream: string;
  timeMs: number;
  source: string;
  /** Null when the event is no longer in the log. */
  partition: string | null;
  payload: Buffer | null;
}

export interface ReplicationRow {
  k: Buffer;
  n: number | null;
  a: number | null;
  b: number | null;
}

export interface EventDigestRow {
  timeMs: number;
  source: string;
  partition: number;
  payload: Buffer;
}

export type Statements = ReturnType<typeof prepareStatements>;
