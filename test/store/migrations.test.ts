import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { eventHash, SCHEMA_VERSION, SqliteStore, StoreVersionError, type EventDigest } from '../../src/store/index.js';
import { migrate, MIGRATIONS, type Migration } from '../../src/store/migrations.js';
import { hex, utf8 } from '../helpers/bytes.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

function raw(path: string): Database.Database {
  const db = new Database(path);
  defer(() => db.close());
  return db;
}

const tooNew = (found: number, supported: number): Error => new StoreVersionError(found, supported);

describe('SqliteStore schema and migrations', () => {
  it('creates a fresh database at the current version, in WAL mode, with small pages', () => {
    const path = join(tempDir('store'), 'nested', 'dir', 'store.db');
    SqliteStore.open({ path }).close();
    const db = raw(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('page_size', { simple: true })).toBe(1024);
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['deployment', 'deployment_history', 'event', 'fold_journal', 'kv', 'module_version', 'replication_digest', 'replication_outbox', 'store_meta', 'symbol', 'token_revocation']);
  });

  it('keeps data and schema when reopened, without migrating again', () => {
    const path = join(tempDir('store'), 'store.db');
    const first = SqliteStore.open({ path });
    first.kvPut('app@1', utf8('k'), utf8('v'));
    first.appendEvent('app', { partition: 'eu', source: 'd', timeMs: 1, payload: utf8('x') });
    first.close();
    const second = SqliteStore.open({ path });
    defer(() => second.close());
    expect(hex(second.kvGet('app@1', utf8('k')))).toBe(hex(utf8('v')));
    expect(second.appendEvent('app', { partition: 'eu', source: 'd', timeMs: 1, payload: utf8('x') })).toBe('duplicate');
    expect(raw(path).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });

  it('keeps the page size of an existing database', () => {
    const path = join(tempDir('store'), 'store.db');
    SqliteStore.open({ path, pageSize: 4096 }).close();
    SqliteStore.open({ path, pageSize: 1024 }).close();
    expect(raw(path).pragma('page_size', { simple: true })).toBe(4096);
  });

  it('refuses a database written by a newer version, and leaves it untouched', () => {
    const path = join(tempDir('store'), 'store.db');
    SqliteStore.open({ path }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.exec('CREATE TABLE from_the_future (x)');
    db.close();

    let error: unknown;
    try {
      SqliteStore.open({ path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreVersionError);
    expect(error).toMatchObject({ name: 'StoreVersionError', found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
    expect((error as Error).message).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 1}.*up to ${SCHEMA_VERSION}.*newer`));
    expect(raw(path).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
  });

  it('upgrades an existing database with a later migration, keeping its data', () => {
    const path = join(tempDir('store'), 'store.db');
    const store = SqliteStore.open({ path });
    store.kvPut('ns', utf8('k'), utf8('v'));
    store.close();
    const outbox: Migration = { version: SCHEMA_VERSION + 1, sql: 'CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL) STRICT;' };
    const db = raw(path);
    expect(migrate(db, [...MIGRATIONS, outbox], tooNew)).toBe(SCHEMA_VERSION);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(db.prepare('SELECT count(*) FROM kv').pluck().get()).toBe(1);
    expect(db.prepare('SELECT count(*) FROM outbox').pluck().get()).toBe(0);
    // Running the same list again changes nothing.
    expect(migrate(db, [...MIGRATIONS, outbox], tooNew)).toBe(SCHEMA_VERSION + 1);
  });

  it('runs migrations in one transaction: a failing one leaves the database as it was', () => {
    const path = join(tempDir('store'), 'store.db');
    const db = raw(path);
    const broken: Migration = { version: SCHEMA_VERSION + 1, sql: 'CREATE TABLE ok_so_far (x); THIS IS NOT SQL;' };
    expect(() => migrate(db, [...MIGRATIONS, broken], tooNew)).toThrow(/syntax error/);
    expect(db.inTransaction).toBe(false);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get()).toBe(0);
  });

  it('upgrades a version 3 database: the digests and facts of replication_state move to real columns', () => {
    const path = join(tempDir('store'), 'store.db');
    const db = new Database(path);
    migrate(db, MIGRATIONS.filter((m) => m.version <= 3), tooNew);
    // What a version 3 store with replication wrote: symbols, events, and their digests under byte-encoded keys.
    db.prepare("INSERT INTO symbol (id, name) VALUES (1, 'aggregator'), (2, 'eu-west'), (3, 'us')").run();
    const minute = 29_000_000;
    const events = [
      { partition: 'eu-west', source: 'd-1', timeMs: minute * 60_000 + 5, payload: utf8('a') },
      { partition: 'eu-west', source: 'd-2', timeMs: minute * 60_000 + 7, payload: utf8('b') },
      { partition: 'us', source: 'd-1', timeMs: (minute + 1) * 60_000, payload: utf8('c') },
    ];
    const ids: Record<string, number> = { 'eu-west': 2, us: 3 };
    const insertEvent = db.prepare('INSERT INTO event (stream, time_ms, source, partition, payload) VALUES (1, ?, ?, ?, ?)');
    const sums = new Map<string, { partition: string; bucket: number; count: number; h1: number; h2: number }>();
    for (const e of events) {
      insertEvent.run(e.timeMs, e.source, ids[e.partition], Buffer.from(e.payload));
      const [h1, h2] = eventHash(e);
      const bucket = Math.floor(e.timeMs / 60_000);
      const sum = sums.get(`${bucket}:${e.partition}`) ?? { partition: e.partition, bucket, count: 0, h1: 0, h2: 0 };
      sums.set(`${bucket}:${e.partition}`, { ...sum, count: sum.count + 1, h1: (sum.h1 + h1) % 2 ** 32, h2: (sum.h2 + h2) % 2 ** 32 });
    }
    const putOld = db.prepare('INSERT INTO replication_state (k, n, a, b) VALUES (?, ?, ?, ?)');
    for (const d of sums.values()) putOld.run(oldDigestKey(1, d.bucket, ids[d.partition]!), d.count, d.h1, d.h2);
    // A minute past 2^32 and lanes with the high bit set: every byte of the key is read.
    putOld.run(oldDigestKey(1, 2 ** 32 + 5, 3), 7, 0xffffffff, 0x80000000);
    putOld.run(Buffer.concat([Buffer.from('m'), Buffer.from('digests_complete')]), minute - 10, null, null);
    db.close();

    const store = SqliteStore.open({ path, replication: true });
    defer(() => store.close());
    const expected: EventDigest[] = [...sums.values()];
    const all = { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 } as const;
    expect(store.eventDigests('aggregator', all)).toEqual([...expected, { partition: 'us', bucket: 2 ** 32 + 5, count: 7, h1: 0xffffffff, h2: 0x80000000 }]);
    expect(store.eventDigests('aggregator', { ...all, toMinute: minute + 2, partition: 'us' })).toEqual(expected.filter((d) => d.partition === 'us'));
    expect(store.digestsComplete()).toBe(true);
    // The copied digests are what the log says: a rebuild from the events changes nothing.
    expect(store.rebuildDigests('aggregator', minute, minute + 2)).toBe(3);
    expect(store.eventDigests('aggregator', { ...all, toMinute: minute + 2 })).toEqual(expected);
    // And they go on counting new events.
    const late = { partition: 'us', source: 'd-9', timeMs: (minute + 1) * 60_000 + 1, payload: utf8('d') };
    expect(store.appendEvent('aggregator', late)).toBe('new');
    expect(store.eventDigests('aggregator', { ...all, fromMinute: minute + 1, toMinute: minute + 2 })[0]?.count).toBe(2);

    const after = raw(path);
    expect(after.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'replication_state'").pluck().get()).toBe(0);
    expect(after.prepare('SELECT key, value FROM store_meta').all()).toEqual([{ key: 'digests_complete', value: minute - 10 }]);
  });
});

/** A digest's key in `replication_state` (migration 2): 'd' + u32 stream + u64 minute + u32 partition, big-endian. */
function oldDigestKey(stream: number, minute: number, partition: number): Buffer {
  const key = Buffer.alloc(17);
  key[0] = 0x64;
  key.writeUInt32BE(stream, 1);
  key.writeUInt32BE(Math.floor(minute / 2 ** 32), 5);
  key.writeUInt32BE(minute % 2 ** 32, 9);
  key.writeUInt32BE(partition, 13);
  return key;
}
