/**
 * The deduplicated event log of each stream (table `event`): appended by guests and by replication, read
 * in pages to replay it into a new module version or to answer anti-entropy.
 */
import type { AppendOutcome, StoredEvent } from '../runtime/index.js';
import type { Connection } from './connection.js';
import { toBuffer } from './bytes.js';

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

/** Told of each event the log did not hold yet, in the transaction of its insert, with its interned ids. */
export type OnNewEvent = (stream: number, partition: number, event: StoredEvent) => void;

/** An event as stored, found by its identity. */
export interface StoredIdentityRow {
  partition: number;
  payload: Buffer;
}

interface EventRow {
  timeMs: number;
  source: string;
  partition: string;
  payload: Buffer;
}

const SELECT_EVENT = `SELECT e.time_ms AS timeMs, e.source AS source, p.name AS partition, e.payload AS payload
       FROM event e JOIN symbol p ON p.id = e.partition`;

export class EventLog {
  private readonly sql;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      insert: db.prepare<[stream: number, timeMs: number, source: string, partition: number, payload: Buffer]>(
        `INSERT INTO event (stream, time_ms, source, partition, payload) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (stream, time_ms, source) DO NOTHING`,
      ),
      byIdentity: db.prepare<[stream: number, timeMs: number, source: string], StoredIdentityRow>(
        'SELECT partition, payload FROM event WHERE stream = ? AND time_ms = ? AND source = ?',
      ),
      first: db.prepare<[stream: number, limit: number], EventRow>(`${SELECT_EVENT} WHERE e.stream = ? ORDER BY e.time_ms, e.source LIMIT ?`),
      after: db.prepare<[stream: number, timeMs: number, source: string, limit: number], EventRow>(
        `${SELECT_EVENT} WHERE e.stream = ? AND (e.time_ms, e.source) > (?, ?) ORDER BY e.time_ms, e.source LIMIT ?`,
      ),
      inRangeAfter: db.prepare<[stream: number, fromMs: number, toMs: number, timeMs: number, source: string, limit: number], EventRow>(
        `${SELECT_EVENT}
         WHERE e.stream = ? AND e.time_ms >= ? AND e.time_ms < ? AND (e.time_ms, e.source) > (?, ?)
         ORDER BY e.time_ms, e.source LIMIT ?`,
      ),
      ofPartitionInRangeAfter: db.prepare<
        [stream: number, fromMs: number, toMs: number, timeMs: number, source: string, partition: number, limit: number],
        EventRow
      >(
        `${SELECT_EVENT}
         WHERE e.stream = ? AND e.time_ms >= ? AND e.time_ms < ? AND (e.time_ms, e.source) > (?, ?) AND e.partition = ?
         ORDER BY e.time_ms, e.source LIMIT ?`,
      ),
      count: db.prepare<[stream: number], number>('SELECT count(*) FROM event WHERE stream = ?').pluck(),
      counts: db.prepare<[], { stream: string; count: number }>(
        `SELECT s.name AS stream, count(*) AS count FROM event e JOIN symbol s ON s.id = e.stream
         GROUP BY e.stream ORDER BY s.name`,
      ),
    };
  }

  /** Appends `event` unless its identity is in the log; `onNew` runs in the same transaction when it was not. */
  append(stream: string, event: StoredEvent, onNew: OnNewEvent | undefined): AppendOutcome {
    const { conn } = this;
    return conn.guard(() =>
      conn.write((): AppendOutcome => {
        const streamId = conn.symbols.intern(stream);
        const { timeMs, source } = event;
        const payload = toBuffer(event.payload);
        let partition = conn.symbols.lookup(event.partition);
        if (partition === undefined) {
          // No stored event can have a partition never seen: a clash is a conflict, and needs no new name.
          if (this.sql.byIdentity.get(streamId, timeMs, source) !== undefined) return 'conflict';
          partition = conn.symbols.intern(event.partition);
        }
        if (this.sql.insert.run(streamId, timeMs, source, partition, payload).changes === 1) {
          onNew?.(streamId, partition, event);
          return 'new';
        }
        const stored = this.sql.byIdentity.get(streamId, timeMs, source);
        if (stored === undefined) throw new Error('event vanished between insert and read');
        return stored.partition === partition && stored.payload.equals(payload) ? 'duplicate' : 'conflict';
      }),
    );
  }

  /** The stored event with this identity, by interned stream id. Runs inside the caller's guard. */
  stored(stream: number, timeMs: number, source: string): StoredIdentityRow | undefined {
    return this.sql.byIdentity.get(stream, timeMs, source);
  }

  read(stream: string, options: ReadEventsOptions): EventPage {
    return this.conn.guard(() => {
      const limit = Math.min(Math.floor(options.limit ?? 1000), 0x7fffffff);
      if (!(limit > 0)) return { events: [], next: options.after };
      const streamId = this.conn.symbols.lookup(stream);
      if (streamId === undefined) return { events: [], next: undefined };
      const { after } = options;
      const events =
        after === undefined
          ? this.sql.first.all(streamId, limit)
          : this.sql.after.all(streamId, after.timeMs, after.source, limit);
      return page(events, limit);
    });
  }

  /** Every event of `stream`, read a page at a time: no statement stays open between pages. */
  *iterate(stream: string, pageSize: number): Generator<StoredEvent, void, undefined> {
    const limit = Math.max(1, pageSize);
    let after: EventCursor | undefined;
    do {
      const page = this.read(stream, { after, limit });
      yield* page.events;
      after = page.next;
    } while (after !== undefined);
  }

  readInRange(stream: string, options: ReadEventsInRangeOptions): EventPage {
    return this.conn.guard(() => {
      const limit = Math.min(Math.floor(options.limit ?? 1000), 0x7fffffff);
      if (!(limit > 0)) return { events: [], next: options.after };
      const streamId = this.conn.symbols.lookup(stream);
      if (streamId === undefined) return { events: [], next: undefined };
      // Before every event of the range: time fromMs - 1 sorts before any event at fromMs.
      const after = options.after ?? { timeMs: options.fromMs - 1, source: '' };
      if (options.partition === undefined) {
        return page(this.sql.inRangeAfter.all(streamId, options.fromMs, options.toMs, after.timeMs, after.source, limit), limit);
      }
      const partition = this.conn.symbols.lookup(options.partition);
      if (partition === undefined) return { events: [], next: undefined };
      return page(
        this.sql.ofPartitionInRangeAfter.all(streamId, options.fromMs, options.toMs, after.timeMs, after.source, partition, limit),
        limit,
      );
    });
  }

  count(stream: string): number {
    return this.conn.guard(() => {
      const streamId = this.conn.symbols.lookup(stream);
      return streamId === undefined ? 0 : this.sql.count.get(streamId) ?? 0;
    });
  }

  counts(): Map<string, number> {
    return this.conn.guard(() => new Map(this.sql.counts.all().map((row) => [row.stream, row.count])));
  }
}

/** A page of at most `limit` events: a full page may have more after it. */
function page(events: StoredEvent[], limit: number): EventPage {
  const last = events[events.length - 1];
  return {
    events,
    next: events.length === limit && last !== undefined ? { timeMs: last.timeMs, source: last.source } : undefined,
  };
}
