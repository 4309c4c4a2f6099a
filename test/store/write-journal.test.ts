/**
 * The write journal (src/store/write-journal.ts), its records (src/store/journal-replay.ts) and the held
 * transaction they make durable (src/store/connection.ts): what a crash leaves is applied again exactly once,
 * a damaged or stale record is never taken for a good one, and a held group is invisible to other connections
 * until the database commits it.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/runtime/store.js';
import {
  EventLogReader,
  SqliteStore,
  WriteJournal,
  decodeGroup,
  encodeGroup,
  journalPaths,
  replayJournal,
  type JournaledEvent,
} from '../../src/store/index.js';
import { SECTOR, parseRecords } from '../../src/store/write-journal.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const event = (source: string, timeMs: number, partition = 'north', payload = new Uint8Array([timeMs & 0xff, 1, 2])): StoredEvent => ({ partition, source, timeMs, payload });
const local = (e: StoredEvent, stream = 'aggregator'): JournaledEvent => ({ stream, origin: 'local', event: e });

function openStore(dir: string): SqliteStore {
  const store = SqliteStore.open({ path: join(dir, 'edgeagg.db'), synchronous: 'normal' });
  defer(() => store.close());
  return store;
}

function openJournal(dir: string, options: Parameters<typeof WriteJournal.open>[1] = {}): WriteJournal {
  const journal = WriteJournal.open(join(dir, 'edgeagg.db'), { fileBytes: 64 * 1024, ...options });
  defer(() => journal.close());
  return journal;
}

/** Events of `stream` as another connection sees them (only what is committed). */
function committedEvents(dir: string, stream = 'aggregator'): string[] {
  const db = new Database(join(dir, 'edgeagg.db'), { readonly: true });
  try {
    return (db.prepare('SELECT e.source || \'@\' || e.time_ms AS id FROM event e JOIN symbol s ON s.id = e.stream WHERE s.name = ? ORDER BY e.time_ms').pluck().all(stream) as string[]);
  } finally {
    db.close();
  }
}

const arbitraryEvent = fc.record({
  stream: fc.constantFrom('aggregator', 'example', 'ünïcode-app'),
  origin: fc.constantFrom('local' as const, 'replicated' as const),
  event: fc.record({
    partition: fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
    source: fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }),
    timeMs: fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
    payload: fc.uint8Array({ maxLength: 4096 }),
  }),
});

describe('journal records', () => {
  it('decode to exactly the events encoded, compressed or not (property)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryEvent, { maxLength: 300 }), (events) => {
        const decoded = decodeGroup(encodeGroup(events));
        expect(decoded.map((e) => ({ ...e, event: { ...e.event, payload: Uint8Array.from(e.event.payload) } }))).toEqual(events);
      }),
      { numRuns: 150 },
    );
  });

  it('are refused when damaged or of another format, never misread', () => {
    const body = encodeGroup([local(event('d-1', 1000))]);
    expect(() => decodeGroup(Uint8Array.from([9, ...body.subarray(1)]))).toThrow(/format 9/);
    expect(() => decodeGroup(body.subarray(0, body.length - 2))).toThrow(/ends early/);
  });
});

describe('the journal files', () => {
  it('gives back every record appended, in order, each starting on a sector boundary', async () => {
    const dir = tempDir('wj');
    const journal = openJournal(dir);
    journal.begin(0);
    const bodies = [1, 100, 487, 488, 489, 1500, 5000].map((n, i) => new Uint8Array(n).fill(i + 1));
    const written = bodies.map((b) => journal.append(b)!);
    await Promise.all(written.map((w) => w.written));
    expect(written.map((w) => w.lsn)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(journal.readAll().map((r) => [r.lsn, r.body])).toEqual(bodies.map((b, i) => [i + 1, b]));
    // Records are sector-aligned: the file holds them at multiples of 512.
    const file = readFileSync(journalPaths(join(dir, 'edgeagg.db'))[0]);
    expect(parseRecords(file.subarray(SECTOR)).map((r) => r.lsn)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('skips a torn record and everything after it when applying, and takes no stale record for a later one', async () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    const journal = openJournal(dir);
    journal.begin(0);
    for (let i = 0; i < 4; i++) await journal.append(encodeGroup([local(event(`d-${i}`, 1000 + i))]))!.written;
    journal.close();
    // A power cut tore the third record: one byte of its body differs from what was written.
    const path = journalPaths(join(dir, 'edgeagg.db'))[0];
    const fd = openSync(path, 'r+');
    writeSync(fd, Uint8Array.of(0xff), 0, 1, 2 * SECTOR + 30);
    closeSync(fd);
    const again = openJournal(dir);
    const replay = replayJournal(store, again);
    // Groups 1 and 2 are applied; 3 is damaged, so 4 (written after it) cannot have been acknowledged before 3.
    expect(replay).toMatchObject({ groups: 2, events: 2, lastLsn: 4 });
    expect(committedEvents(dir)).toEqual(['d-0@1000', 'd-1@1001']);
    expect(store.journalMark()).toBe(4);
    // Appends go on after every lsn seen: the intact record 4 is never applied after a later start.
    await again.append(encodeGroup([local(event('d-9', 2000))]))!.written;
    expect(again.lastLsn).toBe(5);
    expect(replayJournal(store, again)).toMatchObject({ groups: 1, events: 1, lastLsn: 5 });
    expect(committedEvents(dir)).toEqual(['d-0@1000', 'd-1@1001', 'd-9@2000']);
  });

  it('says when a file is full, and starts over in the other file after a rotation', async () => {
    const dir = tempDir('wj');
    const journal = openJournal(dir);
    journal.begin(0);
    const body = new Uint8Array(20_000).fill(7);
    const appended = [];
    for (let i = 0; i < 10; i++) {
      const a = journal.append(body);
      if (!a) break;
      appended.push(a);
    }
    expect(appended).toHaveLength(3); // 64 KiB files, 20.5 KB records
    await Promise.all(appended.map((a) => a.written));
    expect(journal.canRotate).toBe(true);
    journal.rotate();
    expect(journal.append(body)!.lsn).toBe(4);
    await journal.flushed();
    expect(journal.readAll().map((r) => r.lsn)).toEqual([1, 2, 3, 4]);
  });

  it('works the same through the page cache where direct I/O is refused', async () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    const journal = openJournal(dir, { direct: false });
    expect(journal.direct).toBe(false);
    journal.begin(store.journalMark());
    await journal.append(encodeGroup([local(event('d-1', 5)), { stream: 'aggregator', origin: 'replicated', event: event('other', 6) }]))!.written;
    journal.close();
    expect(replayJournal(store, openJournal(dir, { direct: false }))).toMatchObject({ groups: 1, events: 2 });
    expect(committedEvents(dir)).toEqual(['d-1@5', 'other@6']);
  });
});

describe('applying the journal at start', () => {
  it('adds each event once, records it as not yet folded, and moves the mark so a second start adds nothing', async () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    store.appendEvent('aggregator', event('d-1', 1)); // already in the log: applied again, it is a duplicate
    const journal = openJournal(dir);
    journal.begin(0);
    await journal.append(encodeGroup([local(event('d-1', 1)), local(event('d-2', 2))]))!.written;
    await journal.append(encodeGroup([local(event('d-3', 3), 'example')]))!.written;
    expect(replayJournal(store, journal)).toEqual({ groups: 2, events: 2, lastLsn: 2 });
    expect(store.foldJournal('aggregator').load().map((e) => e.source)).toEqual(['d-2']);
    expect(store.foldJournal('example').load().map((e) => e.source)).toEqual(['d-3']);
    expect(replayJournal(store, journal)).toEqual({ groups: 0, events: 0, lastLsn: 2 });
    expect(store.countEvents('aggregator')).toBe(2);
  });
});

describe('held transactions', () => {
  it('keep groups from other connections until committed, and commit them with the journal mark', () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    let mark = 0;
    const committed: number[] = [];
    store.holdHooks({ beforeCommit: () => store.setJournalMark(++mark), committed: () => committed.push(mark), lost: () => {} });
    store.transaction(() => store.appendEvent('aggregator', event('a', 1)), { hold: true });
    store.transaction(() => store.appendEvent('aggregator', event('b', 2)), { hold: true });
    expect(store.holding).toBe(true);
    expect(store.countEvents('aggregator')).toBe(2); // this connection sees them
    expect(committedEvents(dir)).toEqual([]); // another does not
    store.commitHeld();
    expect(store.holding).toBe(false);
    expect(committedEvents(dir)).toEqual(['a@1', 'b@2']);
    expect(committed).toEqual([1]);
    expect(store.journalMark()).toBe(1);
  });

  it('undo only the failed group, and any other transaction commits what is held before it runs', () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    store.holdHooks({ beforeCommit: () => {}, committed: () => {}, lost: () => {} });
    store.transaction(() => store.appendEvent('aggregator', event('kept', 1)), { hold: true });
    expect(() =>
      store.transaction(() => {
        store.appendEvent('aggregator', event('undone', 2));
        throw new Error('the guest trapped');
      }, { hold: true }),
    ).toThrow('the guest trapped');
    expect(store.holding).toBe(true);
    expect(store.countEvents('aggregator')).toBe(1);
    // A write that is not a journaled group (a revocation) commits the held group first, then itself.
    store.revokeToken({ kind: 'token', value: 'jti-1', revokedAtMs: 5 });
    expect(store.holding).toBe(false);
    expect(committedEvents(dir)).toEqual(['kept@1']);
  });

  it('are applied again when SQLite drops them (a full disk rolls back the whole transaction)', () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    const held: StoredEvent[] = [];
    let lost = 0;
    store.holdHooks({
      beforeCommit: () => {},
      committed: () => held.splice(0),
      lost: () => {
        lost++;
        store.transaction(() => held.forEach((e) => store.appendEvent('aggregator', e)), { hold: true });
      },
    });
    const hold = (e: StoredEvent): void => {
      store.transaction(() => store.appendEvent('aggregator', e), { hold: true });
      held.push(e);
    };
    hold(event('a', 1));
    hold(event('b', 2));
    // What SQLite does on a full disk: the whole transaction is gone.
    (store as unknown as { conn: { db: Database.Database } }).conn.db.exec('ROLLBACK');
    expect(store.countEvents('aggregator')).toBe(2);
    expect(lost).toBe(1);
    store.commitHeld();
    expect(committedEvents(dir)).toEqual(['a@1', 'b@2']);
  });
});

describe('reading a running node from another process (edgeagg export)', () => {
  it('includes the events journaled and not committed yet, in order, each once, and only those of the range', async () => {
    const dir = tempDir('wj');
    const store = openStore(dir);
    store.appendEvent('aggregator', event('b', 20)); // committed
    const journal = openJournal(dir);
    journal.begin(0);
    // Journaled, not committed: one of them also committed meanwhile (a commit between the two reads).
    await journal.append(encodeGroup([local(event('a', 10)), local(event('b', 20)), local(event('c', 30, 'south')), local(event('é', 40))]))!.written;
    await journal.append(encodeGroup([local(event('z', 25), 'example')]))!.written;
    const reader = new EventLogReader(join(dir, 'edgeagg.db'));
    defer(() => reader.close());
    const range = { stream: 'aggregator', fromMs: 0, toMs: 1000 };
    const pages: string[][] = [];
    let after;
    do {
      const page = reader.read(range, after, 2);
      pages.push(page.events.map((e) => `${e.source}@${e.timeMs}`));
      after = page.next;
    } while (after);
    expect(pages.flat()).toEqual(['a@10', 'b@20', 'c@30', 'é@40']);
    expect(reader.read({ ...range, partition: 'south' }, undefined, 10).events.map((e) => e.source)).toEqual(['c']);
    expect(reader.count(range)).toBeGreaterThanOrEqual(4);
  });
});
