/**
 * The replication outbox (table `replication_outbox`): the identity of each event a guest appended locally,
 * in commit order, until the fleet's transport acknowledged it (src/replication drains it).
 */
import type { StoredEvent } from '../runtime/index.js';
import type { Connection } from './connection.js';

/** One outbox entry: an event a guest appended locally, not yet acknowledged by the fleet's transport. */
export interface OutboxEntry {
  /** Position in the outbox; entries are read and deleted in this order. */
  seq: number;
  stream: string;
  /** The event, or undefined when it is no longer in the event log (nothing to send). */
  event: StoredEvent | undefined;
}

interface OutboxRow {
  seq: number;
  stream: string;
  timeMs: number;
  source: string;
  /** Null when the event is no longer in the log. */
  partition: string | null;
  payload: Buffer | null;
}

export class Outbox {
  private readonly sql;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      insert: db.prepare<[stream: number, timeMs: number, source: string]>(
        'INSERT INTO replication_outbox (stream, time_ms, source) VALUES (?, ?, ?)',
      ),
      /** The oldest entries from position `seq` on, with their event (null columns when it is no longer in the log). */
      from: db.prepare<[seq: number, limit: number], OutboxRow>(
        `SELECT o.seq AS seq, s.name AS stream, o.time_ms AS timeMs, o.source AS source, p.name AS partition, e.payload AS payload
         FROM replication_outbox o
         JOIN symbol s ON s.id = o.stream
         LEFT JOIN event e ON e.stream = o.stream AND e.time_ms = o.time_ms AND e.source = o.source
         LEFT JOIN symbol p ON p.id = e.partition
         WHERE o.seq >= ? ORDER BY o.seq LIMIT ?`,
      ),
      deleteThrough: db.prepare<[seq: number]>('DELETE FROM replication_outbox WHERE seq <= ?'),
      /** Both ends of the outbox (nulls when it is empty): two lookups in the rowid B-tree, no scan. */
      bounds: db.prepare<[], { first: number | null; last: number | null }>(
        'SELECT min(seq) AS first, max(seq) AS last FROM replication_outbox',
      ),
    };
  }

  /** Adds a new local event, in the transaction of its insert into the log (the caller's guard). */
  add(stream: number, event: StoredEvent): void {
    this.sql.insert.run(stream, event.timeMs, event.source);
  }

  /** Up to `limit` entries after position `after` (0: from the oldest), oldest first. */
  read(after: number, limit: number): OutboxEntry[] {
    return this.conn.guard(() =>
      this.sql.from.all(after + 1, Math.max(1, Math.floor(limit))).map((row) => ({
        seq: row.seq,
        stream: row.stream,
        event:
          row.partition === null || row.payload === null
            ? undefined
            : { partition: row.partition, source: row.source, timeMs: row.timeMs, payload: row.payload },
      })),
    );
  }

  /** Removes the entries up to and including position `seq`; returns how many. */
  deleteThrough(seq: number): number {
    return this.conn.guard(() => this.conn.write(() => this.sql.deleteThrough.run(seq).changes));
  }

  /** The first and last position, or undefined when the outbox is empty. */
  bounds(): { first: number; last: number } | undefined {
    return this.conn.guard(() => {
      const row = this.sql.bounds.get();
      return row === undefined || row.first === null || row.last === null ? undefined : { first: row.first, last: row.last };
    });
  }
}
