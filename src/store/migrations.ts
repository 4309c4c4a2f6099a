/**
 * The store's schema, as a list of migrations, and the function that applies them.
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
 * - `replication_digest` is keyed `(stream, minute, partition)`: the digests a batch of current events
 *   updates are neighbours at the right edge of its B-tree.
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
    // - `replication_state` (moved into real columns by migration 4): rows keyed by bytes whose first byte
    //   says what they are: 'd' digests, per (stream, minute of the event time, partition) the count `n`
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
  {
    // Replication's state in real columns instead of `replication_state`'s byte-encoded keys (migration 2):
    // - `replication_digest`: per (stream, minute of the event time, partition) the number of events and two
    //   32-bit lanes `h1`, `h2` of the sum (mod 2^32) of their hashes, updated with each new event, local or
    //   replicated;
    // - `store_meta`: small facts by name, e.g. `digests_complete` (the minute the digests were rebuilt from).
    // The rows of `replication_state` are copied over: a digest was keyed 'd' + u32 stream + u64 minute +
    // u32 partition (big-endian) with `n`, `a`, `b`; a fact 'm' + its name with its value in `n`.
    version: 4,
    sql: `
      CREATE TABLE replication_digest (
        stream    INTEGER NOT NULL,
        minute    INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        count     INTEGER NOT NULL,
        h1        INTEGER NOT NULL,
        h2        INTEGER NOT NULL,
        PRIMARY KEY (stream, minute, partition)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE store_meta (key TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID;

      INSERT INTO replication_digest (stream, minute, partition, count, h1, h2)
        SELECT ${bigEndian('k', 1, 4)}, ${bigEndian('k', 5, 8)}, ${bigEndian('k', 13, 4)}, ifnull(n, 0), ifnull(a, 0), ifnull(b, 0)
        FROM replication_state WHERE substr(k, 1, 1) = x'64' AND length(k) = 17;
      INSERT INTO store_meta (key, value)
        SELECT CAST(substr(k, 2) AS TEXT), n FROM replication_state WHERE substr(k, 1, 1) = x'6d';
      DROP TABLE replication_state;
    `,
  },
  {
    // Revoked tokens (src/store/revocations.ts): by token id (`kind` 'token', the `jti`) or by subject (`kind`
    // 'subject': every token of that `sub` issued up to `revoked_at_ms`).
    version: 5,
    sql: `
      CREATE TABLE token_revocation (
        kind          TEXT NOT NULL CHECK (kind IN ('token', 'subject')),
        value         TEXT NOT NULL,
        revoked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // Deployments (src/deploy): each app's deployment record (its versions, traffic shares, highest release
    // accepted) as one JSON document replaced in a transaction, so a restart finds the old record or the new
    // one, never a mix; the registry's module versions (bytes are files named by their sha256); and the
    // history of every deploy, promotion and rollback.
    version: 6,
    sql: `
      CREATE TABLE deployment (app TEXT PRIMARY KEY, record TEXT NOT NULL) STRICT, WITHOUT ROWID;
      CREATE TABLE module_version (
        app         TEXT NOT NULL,
        version     TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        release     INTEGER NOT NULL,
        key_id      TEXT NOT NULL,
        manifest    TEXT NOT NULL,
        added_at_ms INTEGER NOT NULL,
        PRIMARY KEY (app, version)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE deployment_history (
        seq     INTEGER PRIMARY KEY,
        app     TEXT NOT NULL,
        at_ms   INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        version TEXT NOT NULL,
        detail  TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

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

/**
 * SQL for the unsigned big-endian integer in bytes `[at, at + length)` of the blob `column`, read digit by
 * digit from its hex (SQLite has no function that reads an integer from bytes).
 */
function bigEndian(column: string, at: number, length: number): string {
  let sql = '0';
  for (let digit = 2 * at + 1; digit <= 2 * (at + length); digit++) {
    sql = `(${sql} * 16 + instr('0123456789ABCDEF', substr(hex(${column}), ${digit}, 1)) - 1)`;
  }
  return sql;
}
