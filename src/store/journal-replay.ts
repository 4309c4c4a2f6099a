/**
 * What a journaled commit group holds, and how the groups the database has not taken yet are applied again
 * at start. A group is journaled only when all it changed in the database follows from the events that were
 * new in it (src/node/journaled-durability.ts): applying a group is appending those events again through the
 * same dedup (each local one also to the outbox, each one to the digests) and recording them in the fold
 * journal as not yet folded. The folds a group made are lost with it and made again, each event once, since
 * the database's fold journal is as it was at the mark.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import type { StoredEvent } from '../runtime/index.js';
import type { SqliteStore } from './sqlite-store.js';
import type { JournalRecord, WriteJournal } from './write-journal.js';

/** An event a commit group added to a stream's log: `local` from a guest here, `replicated` from another node. */
export interface JournaledEvent {
  stream: string;
  origin: 'local' | 'replicated';
  event: StoredEvent;
}

/** The first byte of a record's body: the format, and whether the rest is deflated. */
const FORMAT = 1;
const DEFLATED = 0x80;
/** Bodies up to this size are not compressed: with the record's header they fit one sector already. */
const COMPRESS_FROM = 400;

/**
 * The journal record of a group: its new events, compressed. Names repeat within a group (one stream, a few
 * regions, devices that report again), so each distinct one is written once and then referred to by its
 * number; times are written as the difference from the previous event's.
 */
export function encodeGroup(events: readonly JournaledEvent[]): Uint8Array {
  const out = new ByteWriter();
  const names = new Map<string, number>();
  const name = (s: string): void => {
    const seen = names.get(s);
    if (seen !== undefined) {
      out.varint(seen + 1);
      return;
    }
    names.set(s, names.size);
    out.varint(0);
    out.string(s);
  };
  out.byte(FORMAT);
  out.varint(events.length);
  let time = 0;
  for (const { stream, origin, event } of events) {
    out.byte(origin === 'local' ? 0 : 1);
    name(stream);
    name(event.partition);
    name(event.source);
    time = writeTime(out, event.timeMs, time);
    out.varint(event.payload.length);
    out.bytes(event.payload);
  }
  const raw = out.done();
  // A small group fits a sector as it is; compressing it would cost more time (a zlib stream per call) than it saves.
  if (raw.length <= COMPRESS_FROM) return raw;
  const packed = deflateRawSync(raw.subarray(1), { level: 1 });
  const body = new Uint8Array(packed.length + 1);
  body[0] = FORMAT | DEFLATED;
  body.set(packed, 1);
  return body;
}

/**
 * A time as its difference from the previous event's (0 then the difference, zigzag, plus one), or, when that
 * is too large to encode exactly, 0 and the time itself (f64). Returns the time.
 */
function writeTime(out: ByteWriter, timeMs: number, previous: number): number {
  const difference = timeMs - previous;
  if (Math.abs(difference) < 2 ** 50) {
    out.varint((difference >= 0 ? difference * 2 : -difference * 2 - 1) + 1);
  } else {
    out.varint(0);
    out.f64(timeMs);
  }
  return timeMs;
}

function readTime(input: ByteReader, previous: number): number {
  const z = input.varint();
  if (z === 0) return input.f64();
  const zigzag = z - 1;
  return previous + (zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
}

export function decodeGroup(body: Uint8Array): JournaledEvent[] {
  const format = body[0]! & ~DEFLATED;
  if (format !== FORMAT) throw new Error(`a write journal record of format ${format} (this version reads ${FORMAT})`);
  const content = Buffer.from(body.buffer, body.byteOffset + 1, body.length - 1);
  const input = new ByteReader((body[0]! & DEFLATED) !== 0 ? inflateRawSync(content) : content);
  const names: string[] = [];
  const name = (): string => {
    const ref = input.varint();
    if (ref > 0) {
      const s = names[ref - 1];
      if (s === undefined) throw new Error('a write journal record refers to a name it does not hold');
      return s;
    }
    const s = input.string();
    names.push(s);
    return s;
  };
  const events: JournaledEvent[] = [];
  let time = 0;
  for (let n = input.varint(); n > 0; n--) {
    const origin = input.byte() === 0 ? 'local' : 'replicated';
    const stream = name();
    const partition = name();
    const source = name();
    time = readTime(input, time);
    const payload = input.bytes(input.varint());
    events.push({ stream, origin, event: { partition, source, timeMs: time, payload } });
  }
  return events;
}

/** Appends journaled events to the log (inside the caller's transaction); returns how many were new. */
export function applyGroup(store: SqliteStore, events: readonly JournaledEvent[]): number {
  const fresh = new Map<string, StoredEvent[]>();
  for (const { stream, origin, event } of events) {
    const outcome = origin === 'local' ? store.appendEvent(stream, event) : store.appendReplicatedEvent(stream, event);
    if (outcome !== 'new') continue;
    let list = fresh.get(stream);
    if (!list) fresh.set(stream, (list = []));
    list.push(event);
  }
  let added = 0;
  for (const [stream, list] of fresh) {
    store.foldJournal(stream).append(list);
    added += list.length;
  }
  return added;
}

export interface JournalReplay {
  /** Groups applied again (journaled after the database's last commit of them). */
  groups: number;
  /** Events those groups added to the log. */
  events: number;
  /** The last lsn the database now holds: the journal goes on after it. */
  lastLsn: number;
}

/**
 * Applies the groups journaled after the database's mark, in one transaction that also moves the mark past
 * every record found, and syncs it; then the journal starts over (both files free). At start, before anything
 * reads the fold journal.
 */
export function replayJournal(store: SqliteStore, journal: WriteJournal): JournalReplay {
  const mark = store.journalMark();
  const records = journal.readAll();
  const pending = recordsAfter(records, mark);
  // Past every lsn found, so no record left in a file is ever taken for a later one.
  const lastLsn = Math.max(mark, records.at(-1)?.lsn ?? 0);
  let events = 0;
  if (lastLsn !== mark) {
    store.transaction(() => {
      for (const record of pending) events += applyGroup(store, decodeGroup(record.body));
      store.setJournalMark(lastLsn);
    });
    syncWal(store.path);
  }
  journal.begin(lastLsn);
  return { groups: pending.length, events, lastLsn };
}

/**
 * The events of the journal's records above `mark`, consecutive from it: what a running node has acknowledged
 * and not committed to the database yet, read from another process without changing anything (`edgeagg
 * export`). Read the journal before the database: a record is dropped from the journal only after the
 * database committed it.
 */
export function pendingJournalEvents(records: readonly JournalRecord[], mark: number): JournaledEvent[] {
  return recordsAfter(records, mark).flatMap((record) => decodeGroup(record.body));
}

/**
 * The records (in lsn order) above `mark`, consecutive from it. Writes go one at a time and in order, so after a
 * crash the records form one unbroken run; a gap ends it.
 */
function recordsAfter(records: readonly JournalRecord[], mark: number): JournalRecord[] {
  const after: JournalRecord[] = [];
  let expected = mark + 1;
  for (const record of records) {
    if (record.lsn < expected) continue;
    if (record.lsn !== expected) break;
    after.push(record);
    expected++;
  }
  return after;
}

/** fdatasync of the database's WAL: what was committed is on disk before the journal's files are reused. */
export function syncWal(dbPath: string): void {
  let fd: number;
  try {
    fd = openSync(`${dbPath}-wal`, 'r');
  } catch {
    return; // No WAL: the commit went to the database file, synced by SQLite.
  }
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

class ByteWriter {
  private buf = Buffer.allocUnsafe(4096);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  /** A non-negative integer up to 2^53, seven bits a byte. */
  varint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.at++] = n;
  }

  f64(n: number): void {
    this.room(8);
    this.buf.writeDoubleLE(n, this.at);
    this.at += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  string(s: string): void {
    // At most 3 bytes of UTF-8 per UTF-16 unit; written in place, no copy.
    this.room(8 + s.length * 3);
    const length = Buffer.byteLength(s);
    this.varint(length);
    this.at += this.buf.write(s, this.at);
  }

  done(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

class ByteReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new Error('a write journal record ends early');
    return this.buf[this.at++]!;
  }

  f64(): number {
    if (this.at + 8 > this.buf.length) throw new Error('a write journal record ends early');
    const n = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return n;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  }

  bytes(length: number): Uint8Array {
    if (this.at + length > this.buf.length) throw new Error('a write journal record ends early');
    const b = this.buf.slice(this.at, this.at + length);
    this.at += length;
    return b;
  }

  string(): string {
    const length = this.varint();
    if (this.at + length > this.buf.length) throw new Error('a write journal record ends early');
    const s = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }
}
