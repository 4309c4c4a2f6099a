/**
 * A read-only view of the database as it was at one instant: a second SQLite connection held in one read
 * transaction (WAL gives it a stable snapshot while the node keeps writing through its own connection).
 * A new module version builds its state from it in the background (src/deploy): the events, or the
 * previous version's records, exactly as they were when the build began, however long the build takes.
 *
 * While a snapshot is open the WAL cannot be checkpointed past it, so it grows: close it promptly.
 */
import Database from 'better-sqlite3';
import type { StoredEvent } from '../runtime/index.js';
import type { EventCursor } from './event-log.js';
import { toStoreError } from './errors.js';

export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export class StoreSnapshot {
  private readonly db: Database.Database;
  private readonly sql;
  private closed = false;

  constructor(path: string) {
    try {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      this.db.exec('BEGIN');
      // The snapshot is taken at the first read of the transaction, not at BEGIN: read now.
      this.db.prepare('SELECT count(*) FROM symbol').get();
    } catch (error) {
      throw toStoreError(error);
    }
    const { db } = this;
    this.sql = {
      symbol: db.prepare<[name: string], number>('SELECT id FROM symbol WHERE name = ?').pluck(),
      count: db.prepare<[stream: number], number>('SELECT count(*) FROM event WHERE stream = ?').pluck(),
      events: db.prepare<[stream: number, timeMs: number, source: string, limit: number], StoredEvent>(
        `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
         FROM event e JOIN symbol p ON p.id = e.partition
         WHERE e.stream = ? AND (e.time_ms, e.source) > (?, ?) ORDER BY e.time_ms, e.source LIMIT ?`,
      ),
      kvCount: db.prepare<[ns: number], number>('SELECT count(*) FROM kv WHERE ns = ?').pluck(),
      kv: db.prepare<[ns: number, after: Buffer, limit: number], KvEntry>('SELECT key, value FROM kv WHERE ns = ? AND key > ? ORDER BY key LIMIT ?'),
    };
  }

  /** Events of `stream` in the snapshot. */
  countEvents(stream: string): number {
    const id = this.read(() => this.sql.symbol.get(stream));
    return id === undefined ? 0 : this.read(() => this.sql.count.get(id) ?? 0);
  }

  /** Up to `limit` events of `stream` after `after`, in (time, source) order. */
  events(stream: string, after: EventCursor | undefined, limit: number): StoredEvent[] {
    const id = this.read(() => this.sql.symbol.get(stream));
    if (id === undefined) return [];
    return this.read(() => this.sql.events.all(id, after?.timeMs ?? -1, after?.source ?? '', limit));
  }

  /** Records in `namespace`. */
  countKv(namespace: string): number {
    const ns = this.read(() => this.sql.symbol.get(namespace));
    return ns === undefined ? 0 : this.read(() => this.sql.kvCount.get(ns) ?? 0);
  }

  /** Up to `limit` records of `namespace` with keys after `after` (empty: from the first), in key order. */
  kv(namespace: string, after: Uint8Array, limit: number): KvEntry[] {
    const ns = this.read(() => this.sql.symbol.get(namespace));
    if (ns === undefined) return [];
    return this.read(() => this.sql.kv.all(ns, Buffer.from(after.buffer, after.byteOffset, after.byteLength), limit));
  }

  /** Ends the read transaction and closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.exec('COMMIT');
    } finally {
      this.db.close();
    }
  }

  private read<T>(fn: () => T): T {
    if (this.closed) throw new Error('the snapshot is closed');
    try {
      return fn();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}
