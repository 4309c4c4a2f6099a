/**
 * Reading a node's database from another process while the node runs: a consistent copy of it (SQLite's
 * online backup API) and its event log read a page at a time, both through a read-only connection that
 * takes no lock a writer waits for (WAL: readers and the writer do not block each other).
 */
import Database from 'better-sqlite3';
import { StoreVersionError, toStoreError } from './errors.js';
import type { EventCursor, EventPage } from './event-log.js';
import { pendingJournalEvents, type JournaledEvent } from './journal-replay.js';
import { SCHEMA_VERSION } from './migrations.js';
import { readJournalRecords } from './write-journal.js';
import type { StoredEvent } from '../runtime/index.js';

/** What {@link backupDatabase} copied. */
export interface DatabaseBackup {
  /** The `PRAGMA user_version` of the copy: the schema it was written with. */
  schemaVersion: number;
  pages: number;
}

/**
 * Copies the database at `dbPath` into a new file `destPath`, as it was at one instant, with the writer
 * running. The copy is one step of the backup API inside one read transaction: a multi-step backup from a
 * second connection starts over whenever the writer commits between two steps, and under steady ingest it
 * might never finish. The WAL cannot be checkpointed past the copy's snapshot while it runs; that is all the
 * node sees of it.
 */
export async function backupDatabase(dbPath: string, destPath: string): Promise<DatabaseBackup> {
  const db = openReadOnly(dbPath);
  try {
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const done = await db.backup(destPath, { progress: () => 0x7fffffff });
    return { schemaVersion, pages: done.totalPages };
  } catch (error) {
    throw toStoreError(error);
  } finally {
    db.close();
  }
}

/**
 * The result of SQLite's `PRAGMA quick_check` on the database copy at `path`: `'ok'`, or its problems, one a
 * line. Opened read-write (it must be no live node's database), so closing it leaves no `-wal` or `-shm`.
 */
export function quickCheck(path: string): string {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    throw toStoreError(error);
  }
  try {
    return (db.prepare('PRAGMA quick_check').pluck().all() as string[]).join('\n');
  } finally {
    db.close();
  }
}

/** A range of events of one stream (and optionally one partition): times from `fromMs`, before `toMs`. */
export interface EventRange {
  stream: string;
  fromMs: number;
  toMs: number;
  /** @default every partition */
  partition?: string;
}

/**
 * A node's event log, read-only, from another process (`edgeagg export`): the database, and the events a
 * running node acknowledged and holds in its write journal, not committed to the database yet.
 */
export class EventLogReader {
  private readonly db: Database.Database;
  private readonly sql;
  /** The journal's events the database did not hold when this reader opened, by (time, source). */
  private readonly pending: JournaledEvent[];

  /** Opens the database at `dbPath` read-only; refuses one written by a newer version. */
  constructor(dbPath: string) {
    // The journal first (see pendingJournalEvents).
    const records = readJournalRecords(dbPath);
    this.db = openReadOnly(dbPath);
    try {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new StoreVersionError(version, SCHEMA_VERSION);
    } catch (error) {
      this.db.close();
      throw error;
    }
    // `@partition IS NULL OR ...`: one statement for one partition or all; the key (stream, time_ms, source)
    // bounds the scan either way.
    const where = `e.stream = (SELECT id FROM symbol WHERE name = @stream) AND e.time_ms >= @fromMs AND e.time_ms < @toMs
      AND (@partition IS NULL OR e.partition = (SELECT id FROM symbol WHERE name = @partition))`;
    this.sql = {
      page: this.db.prepare<[RangeParams & { afterMs: number; afterSource: string; limit: number }], { timeMs: number; source: string; partition: string; payload: Buffer }>(
        `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
         FROM event e JOIN symbol p ON p.id = e.partition
         WHERE ${where} AND (e.time_ms, e.source) > (@afterMs, @afterSource)
         ORDER BY e.time_ms, e.source LIMIT @limit`,
      ),
      count: this.db.prepare<[RangeParams], number>(`SELECT count(*) FROM event e WHERE ${where}`).pluck(),
    };
    this.pending = records.length === 0 ? [] : pendingJournalEvents(records, journalMark(this.db)).sort((a, b) => compareKeys(a.event, b.event));
  }
  /** How many events the range holds now (for a progress bar: more may arrive while it is read). */
  count(range: EventRange): number {
    return (this.sql.count.get(params(range)) ?? 0) + this.pending.filter((e) => inRange(e, range)).length;
  }

  /** The events of `range` after `after`, in `(timeMs, source)` order; each page is its own read transaction. */
  read(range: EventRange, after: EventCursor | undefined, limit: number): EventPage {
    const from = after ?? { timeMs: range.fromMs - 1, source: '' };
    const stored: StoredEvent[] = this.sql.page.all({ ...params(range), afterMs: from.timeMs, afterSource: from.source, limit });
    const full = stored.length === limit;
    const last = stored[stored.length - 1];
    // The journal's events of this page's span (a later page takes those past it); one the node committed
    // meanwhile is in both, and kept once.
    const pending = this.pending.filter(
      (e) => inRange(e, range) && compareKeys(e.event, from) > 0 && (!full || last === undefined || compareKeys(e.event, last) <= 0),
    );
    if (pending.length === 0) return { events: stored, next: full && last ? { timeMs: last.timeMs, source: last.source } : undefined };
    const byKey = new Map<string, StoredEvent>();
    for (const e of [...stored, ...pending.map((p) => p.event)]) byKey.set(`${e.timeMs}\u0000${e.source}`, e);
    const events = [...byKey.values()].sort(compareKeys);
    const end = events[events.length - 1]!;
    return { events, next: full ? { timeMs: end.timeMs, source: end.source } : undefined };
  }

  close(): void {
    this.db.close();
  }
}

interface RangeParams {
  stream: string;
  fromMs: number;
  toMs: number;
  partition: string | null;
}

/** The database's write journal mark (src/store/sqlite-store.ts), read through `db`. */
function journalMark(db: Database.Database): number {
  const value = db.prepare<[], unknown>("SELECT value FROM store_meta WHERE key = 'write_journal_lsn'").pluck().get();
  return typeof value === 'number' ? value : 0;
}

function inRange({ stream, event }: JournaledEvent, range: EventRange): boolean {
  return stream === range.stream && event.timeMs >= range.fromMs && event.timeMs < range.toMs && (range.partition === undefined || event.partition === range.partition);
}

/** The event log's order: time, then source as UTF-8 bytes (SQLite's BINARY collation). */
function compareKeys(a: EventCursor, b: EventCursor): number {
  return a.timeMs - b.timeMs || Buffer.compare(Buffer.from(a.source), Buffer.from(b.source));
}

function params(range: EventRange): RangeParams {
  return { stream: range.stream, fromMs: range.fromMs, toMs: range.toMs, partition: range.partition ?? null };
}

function openReadOnly(path: string): Database.Database {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    // A node's checkpoint may hold the write lock an instant; a reader that opens then waits for it.
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    throw toStoreError(error);
  }
}
