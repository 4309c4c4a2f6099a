import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteStore, StoreVersionError } from '../../src/store/index.js';
import { migrate, MIGRATIONS, type Migration } from '../../src/store/sql.js';
import { defer, hex, tempDir, utf8 } from './helpers.js';

function raw(path: string): Database.Database {
  const db = new Database(path);
  defer(() => db.close());
  return db;
}

const tooNew = (found: number, supported: number): Error => new StoreVersionError(found, supported);

describe('SqliteStore schema and migrations', () => {
  it('creates a fresh database at the current version, in WAL mode, with small pages', () => {
    const path = join(tempDir(), 'nested', 'dir', 'store.db');
    SqliteStore.open({ path }).close();
    const db = raw(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('page_size', { simple: true })).toBe(1024);
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['event', 'fold_journal', 'kv', 'replication_outbox', 'replication_state', 'symbol']);
  });

  it('keeps data and schema when reopened, without migrating again', () => {
    const path = join(tempDir(), 'store.db');
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
    const path = join(tempDir(), 'store.db');
    SqliteStore.open({ path, pageSize: 4096 }).close();
    SqliteStore.open({ path, pageSize: 1024 }).close();
    expect(raw(path).pragma('page_size', { simple: true })).toBe(4096);
  });

  it('refuses a database written by a newer version, and leaves it untouched', () => {
    const path = join(tempDir(), 'store.db');
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
    const path = join(tempDir(), 'store.db');
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
    const path = join(tempDir(), 'store.db');
    const db = raw(path);
    const broken: Migration = { version: SCHEMA_VERSION + 1, sql: 'CREATE TABLE ok_so_far (x); THIS IS NOT SQL;' };
    expect(() => migrate(db, [...MIGRATIONS, broken], tooNew)).toThrow(/syntax error/);
    expect(db.inTransaction).toBe(false);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get()).toBe(0);
  });
});
