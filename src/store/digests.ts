/**
 * The anti-entropy digests (table `replication_digest`): per (stream, minute of the event time, partition)
 * the number of events and the sum of their hashes, updated with each new event, local or replicated, so
 * two nodes compare their event sets a minute (or an hour) at a time without sending them.
 */
import { hash as oneShotHash } from 'node:crypto';
import type { StoredEvent } from '../runtime/index.js';
import type { Connection } from './connection.js';
import type { StoreMeta } from './store-meta.js';

/** Milliseconds per digest bucket. */
export const DIGEST_BUCKET_MS = 60_000;

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

/** The `store_meta` fact that the digests describe every event; its value is the minute they were rebuilt from. */
const DIGESTS_COMPLETE = 'digests_complete';

interface DigestRow {
  minute: number;
  partition: number;
  count: number;
  h1: number;
  h2: number;
}

interface EventDigestRow {
  timeMs: number;
  source: string;
  partition: number;
  payload: Buffer;
}

export class Digests {
  private readonly sql;

  constructor(
    private readonly conn: Connection,
    private readonly meta: StoreMeta,
  ) {
    const { db } = conn;
    this.sql = {
      /** One more event in a digest. */
      add: db.prepare<[stream: number, minute: number, partition: number, h1: number, h2: number]>(
        `INSERT INTO replication_digest (stream, minute, partition, count, h1, h2) VALUES (?, ?, ?, 1, ?, ?)
         ON CONFLICT (stream, minute, partition) DO UPDATE
         SET count = count + 1, h1 = (h1 + excluded.h1) % 4294967296, h2 = (h2 + excluded.h2) % 4294967296`,
      ),
      put: db.prepare<[stream: number, minute: number, partition: number, count: number, h1: number, h2: number]>(
        'INSERT OR REPLACE INTO replication_digest (stream, minute, partition, count, h1, h2) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      range: db.prepare<[stream: number, fromMinute: number, toMinute: number], DigestRow>(
        `SELECT minute, partition, count, h1, h2 FROM replication_digest
         WHERE stream = ? AND minute >= ? AND minute < ? ORDER BY minute, partition`,
      ),
      deleteRange: db.prepare<[stream: number, fromMinute: number, toMinute: number]>(
        'DELETE FROM replication_digest WHERE stream = ? AND minute >= ? AND minute < ?',
      ),
      /** Events of one stream with `from <= time_ms < to`, in key order, for rebuilding digests. */
      events: db.prepare<[stream: number, fromMs: number, toMs: number], EventDigestRow>(
        `SELECT time_ms AS timeMs, source, partition, payload FROM event
         WHERE stream = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms, source`,
      ),
    };
  }

  /** Adds a new event to its digest, in the transaction of its insert into the log (the caller's guard). */
  add(stream: number, partition: number, event: StoredEvent): void {
    const [h1, h2] = eventHash(event);
    this.sql.add.run(stream, Math.floor(event.timeMs / DIGEST_BUCKET_MS), partition, h1, h2);
  }

  /** Digests of `stream`'s events per (partition, minute or hour) in a range of minutes, in key order. */
  query(stream: string, query: EventDigestQuery): EventDigest[] {
    const { conn } = this;
    return conn.guard(() => {
      const streamId = conn.symbols.lookup(stream);
      if (streamId === undefined) return [];
      let partition: number | undefined;
      if (query.partition !== undefined) {
        partition = conn.symbols.lookup(query.partition);
        if (partition === undefined) return [];
      }
      const names = new Map<number, string>();
      const minutes: EventDigest[] = [];
      for (const row of this.sql.range.all(streamId, bound(query.fromMinute), bound(query.toMinute))) {
        if (partition !== undefined && row.partition !== partition) continue;
        minutes.push({ partition: conn.symbols.name(row.partition, names), bucket: row.minute, count: row.count, h1: row.h1, h2: row.h2 });
      }
      return query.level === 'hour' ? sumByHour(minutes) : minutes;
    });
  }

  /**
   * Recomputes the digests of `stream` for the minutes `[fromMinute, toMinute)` from the event log, in one
   * transaction that holds the range's events in memory. Returns the number of events read.
   */
  rebuild(stream: string, fromMinute: number, toMinute: number): number {
    const { conn } = this;
    return conn.guard(() =>
      conn.write(() => {
        const streamId = conn.symbols.lookup(stream);
        if (streamId === undefined) return 0;
        this.sql.deleteRange.run(streamId, bound(fromMinute), bound(toMinute));
        const sums = new Map<string, { minute: number; partition: number; count: number; h1: number; h2: number }>();
        const names = new Map<number, string>();
        const rows = this.sql.events.all(streamId, Math.max(0, fromMinute) * DIGEST_BUCKET_MS, Math.max(0, toMinute) * DIGEST_BUCKET_MS);
        for (const row of rows) {
          const partition = conn.symbols.name(row.partition, names);
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
        for (const d of sums.values()) this.sql.put.run(streamId, d.minute, d.partition, d.count, d.h1, d.h2);
        return rows.length;
      }),
    );
  }

  /** Drops the digests of minutes before `beforeMinute`. */
  prune(stream: string, beforeMinute: number): void {
    const { conn } = this;
    conn.guard(() => {
      const streamId = conn.symbols.lookup(stream);
      if (streamId !== undefined) conn.write(() => this.sql.deleteRange.run(streamId, 0, bound(beforeMinute)));
    });
  }

  /** Whether the digests describe every event of the minutes they were rebuilt for. */
  complete(): boolean {
    return this.conn.guard(() => this.meta.get(DIGESTS_COMPLETE) !== undefined);
  }

  /** Records that the digests were rebuilt down to `fromMinute`. */
  markComplete(fromMinute: number): void {
    this.conn.guard(() => this.conn.write(() => this.meta.set(DIGESTS_COMPLETE, fromMinute)));
  }

  /**
   * A store without replication does not update the digests, so once it may write they no longer describe
   * every event: the next store with replication rebuilds them. A database that cannot be read here fails
   * at its first real use instead, as it did before replication existed.
   */
  invalidate(): void {
    try {
      if (this.meta.get(DIGESTS_COMPLETE) !== undefined) this.meta.delete(DIGESTS_COMPLETE);
    } catch {
      // Corrupt or busy: reported by the operation that needs the data.
    }
  }
}

/** A minute as a bound of a range of digests: whole, and not before the epoch (no digest is). */
function bound(minute: number): number {
  return Math.floor(Math.min(Math.max(0, minute), Number.MAX_SAFE_INTEGER));
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
