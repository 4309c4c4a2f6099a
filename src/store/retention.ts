/**
 * Retention in the store: deleting old time buckets of kv namespaces, old events with their digests, and
 * giving the freed pages back to the file system. Every call deletes a bounded number of rows in one
 * short transaction on the store's own connection, so a caller that loops with a yield between calls
 * never holds ingest for longer than one small commit.
 */
import type { Connection } from './connection.js';
import { DIGEST_BUCKET_MS } from './digests.js';

/** One family of time-bucketed keys: `prefix`, a big-endian u32 bucket number (time / `unitMs`), anything. */
export interface PruneRule {
  prefix: Uint8Array;
  unitMs: number;
  /** Buckets ending more than this long ago are deleted; 0 keeps them forever. */
  keepMs: number;
}

/** How the database file uses its space. */
export interface SpaceUsage {
  /** Size of the database file (the WAL not counted). */
  sizeBytes: number;
  /** Bytes of free pages in the file, reused before it grows. */
  freeBytes: number;
  /** `sizeBytes - freeBytes`: what the data takes. */
  usedBytes: number;
  pageSize: number;
  /** The largest the file may grow (`max_page_count`): a write needing more fails with `disk_full`. */
  capBytes: number;
  /** Whether freed pages can be given back to the file system a few at a time ({@link StoreRetention.reclaim}). */
  incrementalVacuum: boolean;
}

const U32_LIMIT = 2 ** 32;

export class StoreRetention {
  private readonly sql;
  /** The page limit the store was opened with (`maxPageCount`): a budget never raises it. */
  private readonly openedMaxPages: number;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      namespaces: db
        .prepare<[low: string, high: string], string>(
          'SELECT s.name FROM symbol s WHERE s.name > ? AND s.name < ? AND EXISTS (SELECT 1 FROM kv WHERE kv.ns = s.id) ORDER BY s.name',
        )
        .pluck(),
      deleteKeys: db.prepare<[ns: number, low: Buffer, high: Buffer, limit: number]>(
        'DELETE FROM kv WHERE id IN (SELECT id FROM kv WHERE ns = ? AND key >= ? AND key < ? LIMIT ?)',
      ),
      deleteEvents: db.prepare<[stream: number, beforeMs: number, limit: number]>(
        `DELETE FROM event WHERE (stream, time_ms, source) IN
           (SELECT stream, time_ms, source FROM event WHERE stream = ? AND time_ms < ? ORDER BY time_ms LIMIT ?)`,
      ),
      deleteDigests: db.prepare<[stream: number, beforeMinute: number, limit: number]>(
        `DELETE FROM replication_digest WHERE (stream, minute, partition) IN
           (SELECT stream, minute, partition FROM replication_digest WHERE stream = ? AND minute < ? LIMIT ?)`,
      ),
      journal: db.prepare<[stream: number], string>('SELECT identities FROM fold_journal WHERE stream = ?').pluck(),
      pageCount: db.prepare<[], number>('PRAGMA page_count').pluck(),
      freelistCount: db.prepare<[], number>('PRAGMA freelist_count').pluck(),
      pageSize: db.prepare<[], number>('PRAGMA page_size').pluck(),
      autoVacuum: db.prepare<[], number>('PRAGMA auto_vacuum').pluck(),
      maxPageCount: db.prepare<[], number>('PRAGMA max_page_count').pluck(),
    };
    this.openedMaxPages = conn.guard(() => this.sql.maxPageCount.get()!);
  }

  /**
   * The kv namespaces of every version of module `name` (`name@version`) that hold any key.
   */
  namespacesOf(name: string): string[] {
    // '@' + 1 is 'A': every `name@...` sorts between the two.
    return this.conn.guard(() => this.sql.namespaces.all(`${name}@`, `${name}A`));
  }

  /**
   * Deletes at most `maxRows` keys of `namespace` in buckets that `rules` say are past their time at
   * `nowMs`, in one transaction. Returns how many it deleted: fewer than `maxRows` means none are left.
   */
  pruneNamespace(namespace: string, rules: readonly PruneRule[], nowMs: number, maxRows = 500): number {
    const { conn } = this;
    return conn.guard(() => {
      const ns = conn.symbols.lookup(namespace);
      if (ns === undefined) return 0;
      return conn.write(() => {
        let deleted = 0;
        for (const rule of rules) {
          if (deleted >= maxRows) break;
          if (!(rule.keepMs > 0) || !(rule.unitMs > 0) || rule.prefix.length === 0) continue;
          // Bucket b covers [b * unit, (b + 1) * unit): it ended keepMs ago once b < firstKept.
          const firstKept = Math.floor((nowMs - rule.keepMs) / rule.unitMs);
          if (firstKept <= 0) continue;
          const low = Buffer.from(rule.prefix);
          const high = Buffer.alloc(low.length + 4);
          low.copy(high);
          if (firstKept < U32_LIMIT) high.writeUInt32BE(firstKept, low.length);
          else high.fill(0xff, low.length);
          deleted += this.sql.deleteKeys.run(ns, low, high, maxRows - deleted).changes;
        }
        return deleted;
      });
    });
  }

  /**
   * Deletes at most `maxRows` events of `stream` older than `beforeMs`, and then the digests of the minutes
   * wholly before it, in one transaction. Events the fold journal still names (not yet folded) are kept, with
   * everything after them. Returns how many rows it deleted: fewer than `maxRows` means none are left.
   */
  pruneEvents(stream: string, beforeMs: number, maxRows = 500): number {
    const { conn } = this;
    return conn.guard(() => {
      const streamId = conn.symbols.lookup(stream);
      if (streamId === undefined) return 0;
      return conn.write(() => {
        const before = Math.min(beforeMs, this.oldestUnfolded(streamId));
        let deleted = this.sql.deleteEvents.run(streamId, before, maxRows).changes;
        if (deleted < maxRows) {
          deleted += this.sql.deleteDigests.run(streamId, Math.floor(before / DIGEST_BUCKET_MS), maxRows - deleted).changes;
        }
        return deleted;
      });
    });
  }

  /** Gives up to `maxPages` free pages back to the file system (with incremental vacuum); returns how many. */
  reclaim(maxPages = 256): number {
    const { conn } = this;
    return conn.guard(() => {
      if (this.sql.autoVacuum.get() !== 2) return 0;
      const before = this.sql.pageCount.get()!;
      conn.write(() => conn.db.pragma(`incremental_vacuum(${Math.max(1, Math.trunc(maxPages))})`));
      return before - this.sql.pageCount.get()!;
    });
  }

  /**
   * Turns incremental vacuum on for a database created without it, by rewriting it (VACUUM), when it is no
   * larger than `maxBytes`: the rewrite blocks the store while it runs (about a second per 30 MiB on a
   * Raspberry Pi class board) and needs as much memory. Returns whether incremental vacuum is on.
   */
  enableIncrementalVacuum(maxBytes: number): boolean {
    const { conn } = this;
    return conn.guard(() => {
      if (this.sql.autoVacuum.get() === 2) return true;
      conn.commitHeld();
      if (conn.db.inTransaction || this.usage().sizeBytes > maxBytes) return false;
      conn.db.pragma('auto_vacuum = INCREMENTAL');
      conn.db.exec('VACUUM');
      return this.sql.autoVacuum.get() === 2;
    });
  }

  /**
   * Caps the database file at `bytes` (0: the limit it was opened with): a write that needs a page past it
   * fails with `disk_full`. SQLite never sets the cap below the pages the file has now.
   */
  limitSize(bytes: number): void {
    this.conn.guard(() => {
      const pages = bytes > 0 ? Math.min(this.openedMaxPages, Math.max(1, Math.floor(bytes / this.sql.pageSize.get()!))) : this.openedMaxPages;
      if (this.sql.maxPageCount.get() !== pages) this.conn.db.pragma(`max_page_count = ${pages}`);
    });
  }

  usage(): SpaceUsage {
    return this.conn.guard(() => {
      const pageSize = this.sql.pageSize.get()!;
      const sizeBytes = this.sql.pageCount.get()! * pageSize;
      const freeBytes = this.sql.freelistCount.get()! * pageSize;
      return {
        sizeBytes,
        freeBytes,
        usedBytes: sizeBytes - freeBytes,
        pageSize,
        capBytes: this.sql.maxPageCount.get()! * pageSize,
        incrementalVacuum: this.sql.autoVacuum.get() === 2,
      };
    });
  }

  /** The time of the oldest event of the stream's fold journal (Infinity when it is empty). */
  private oldestUnfolded(stream: number): number {
    let oldest = Infinity;
    for (const row of this.sql.journal.all(stream)) {
      for (const [timeMs] of JSON.parse(row) as Array<[number, string]>) if (timeMs < oldest) oldest = timeMs;
    }
    return oldest;
  }
}
