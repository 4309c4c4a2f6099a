/**
 * The fold journal (table `fold_journal`): events of the log whose fold into the aggregates is deferred
 * (src/ingest), written in the transaction that appends them, cleared in the transaction that folds them.
 */
import type { FoldJournal } from '../ingest/index.js';
import type { StoredEvent } from '../runtime/index.js';
import type { Connection } from './connection.js';
import type { EventLog } from './event-log.js';

/** The journal's statements, prepared once per connection and shared by the journals of every stream. */
export class FoldJournalTable {
  readonly insert;
  readonly ofStream;
  readonly clear;

  constructor(
    readonly conn: Connection,
    readonly log: EventLog,
  ) {
    const { db } = conn;
    this.insert = db.prepare<[stream: number, identities: string]>('INSERT INTO fold_journal (stream, identities) VALUES (?, ?)');
    this.ofStream = db.prepare<[stream: number], string>('SELECT identities FROM fold_journal WHERE stream = ? ORDER BY seq').pluck();
    this.clear = db.prepare<[stream: number]>('DELETE FROM fold_journal WHERE stream = ?');
  }
}

/** The fold journal of one stream: one row per commit group, a JSON array of identities `[timeMs, source]`. */
export class SqliteFoldJournal implements FoldJournal {
  constructor(
    private readonly table: FoldJournalTable,
    readonly stream: string,
  ) {}

  /** Records `events` (already in the stream's log) as not yet folded. */
  append(events: readonly StoredEvent[]): void {
    if (events.length === 0) return;
    const { conn, insert } = this.table;
    conn.guard(() => {
      const identities = JSON.stringify(events.map((e) => [e.timeMs, e.source]));
      conn.write(() => insert.run(conn.symbols.intern(this.stream), identities));
    });
  }

  /** The events recorded as not yet folded, oldest first, read back from the log. */
  load(): StoredEvent[] {
    const { conn, log, ofStream } = this.table;
    return conn.guard(() => {
      const streamId = conn.symbols.lookup(this.stream);
      if (streamId === undefined) return [];
      const names = new Map<number, string>();
      const events: StoredEvent[] = [];
      for (const row of ofStream.all(streamId)) {
        for (const [timeMs, source] of JSON.parse(row) as Array<[number, string]>) {
          const stored = log.stored(streamId, timeMs, source);
          // The journal is written with the events it names, so this is a damaged database.
          if (stored === undefined) throw new Error(`the fold journal names an event not in the log: ${source} at ${timeMs}`);
          events.push({ partition: conn.symbols.name(stored.partition, names), source, timeMs, payload: stored.payload });
        }
      }
      return events;
    });
  }

  /** Forgets every event recorded as not yet folded. */
  clear(): void {
    const { conn, clear } = this.table;
    conn.guard(() => {
      const streamId = conn.symbols.lookup(this.stream);
      if (streamId !== undefined) conn.write(() => clear.run(streamId));
    });
  }
}
