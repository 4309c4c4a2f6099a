import { closeSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/runtime/store.js';
import { toStoreError } from '../../src/store/errors.js';
import { SqliteStore } from '../../src/store/index.js';
import { bytes, hex, utf8 } from '../helpers/bytes.js';
import { thrownBy } from '../helpers/errors.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

function expectUnavailable(error: unknown, code: string, sqliteCode?: RegExp): void {
  expect(error).toBeInstanceOf(StoreUnavailableError);
  expect((error as StoreUnavailableError).code).toBe(code);
  if (sqliteCode !== undefined) {
    const cause = (error as StoreUnavailableError).cause;
    expect(cause).toBeInstanceOf(Database.SqliteError);
    expect((cause as InstanceType<typeof Database.SqliteError>).code).toMatch(sqliteCode);
  }
}

function open(options: { maxPageCount?: number; busyTimeoutMs?: number } = {}): { store: SqliteStore; path: string } {
  const path = join(tempDir('store'), 'store.db');
  const store = SqliteStore.open({ path, ...options });
  defer(() => store.close());
  return { store, path };
}

const big = (n: number): Uint8Array => new Uint8Array(n).fill(0x5a);

describe('SqliteStore error mapping', () => {
  it.each([
    ['SQLITE_FULL', 'disk_full'],
    ['SQLITE_BUSY', 'store_busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'store_busy'],
    ['SQLITE_BUSY_TIMEOUT', 'store_busy'],
    ['SQLITE_LOCKED', 'store_busy'],
    ['SQLITE_LOCKED_SHAREDCACHE', 'store_busy'],
    ['SQLITE_IOERR', 'io_error'],
    ['SQLITE_IOERR_WRITE', 'io_error'],
    ['SQLITE_IOERR_FSYNC', 'io_error'],
    ['SQLITE_IOERR_SHORT_READ', 'io_error'],
    ['SQLITE_CANTOPEN', 'io_error'],
    ['SQLITE_READONLY', 'read_only'],
    ['SQLITE_READONLY_DBMOVED', 'read_only'],
    ['SQLITE_CORRUPT', 'corrupt'],
    ['SQLITE_CORRUPT_INDEX', 'corrupt'],
    ['SQLITE_NOTADB', 'corrupt'],
    ['SQLITE_NOMEM', 'out_of_memory'],
  ])('maps %s to %s, keeping the SQLite error as cause', (sqliteCode, code) => {
    const original = new Database.SqliteError('something failed', sqliteCode);
    const mapped = toStoreError(original);
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect(mapped).toMatchObject({ name: 'StoreUnavailableError', code, cause: original });
    expect((mapped as Error).message).toContain(sqliteCode);
  });

  it('returns bugs unchanged: constraint and misuse errors, and anything that is not from SQLite', () => {
    for (const error of [
      new Database.SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'),
      new Database.SqliteError('near "x": syntax error', 'SQLITE_ERROR'),
      new TypeError('bad argument'),
      'a string',
    ]) {
      expect(toStoreError(error)).toBe(error);
    }
  });
});

describe('SqliteStore under a full disk (max_page_count)', () => {
  it('fails with disk_full and keeps nothing of the failed call', () => {
    const { store } = open({ maxPageCount: 48 });
    store.kvPut('ns', utf8('committed'), bytes(1));
    store.appendEvent('s', { partition: 'p', source: 'd', timeMs: 1, payload: bytes(1) });
    let written = 0;
    const error = thrownBy(() =>
      store.atomically(() => {
        store.appendEvent('s', { partition: 'p', source: 'd', timeMs: 2, payload: bytes(2) });
        for (;;) store.kvPut('ns', utf8(`key-${written++}`), big(2000));
      }),
    );
    expectUnavailable(error, 'disk_full', /^SQLITE_FULL/);
    expect(written).toBeGreaterThan(3);
    expect(store.kvList('ns', bytes(), undefined, 1000).map((k) => Buffer.from(k).toString())).toEqual(['committed']);
    expect(store.appendEvent('s', { partition: 'p', source: 'd', timeMs: 2, payload: bytes(9) })).toBe('new');
    expect(store.appendEvent('s', { partition: 'p', source: 'd', timeMs: 1, payload: bytes(1) })).toBe('duplicate');
    expect(store.integrityCheck()).toBe('ok');
  });

  it('fails a single write that does not fit, outside atomically, and keeps working for small ones', () => {
    const { store } = open({ maxPageCount: 48 });
    expectUnavailable(thrownBy(() => store.kvPut('ns', utf8('huge'), big(100_000))), 'disk_full', /^SQLITE_FULL/);
    expect(store.kvGet('ns', utf8('huge'))).toBeUndefined();
    store.kvPut('ns', utf8('small'), bytes(1));
    expect(hex(store.kvGet('ns', utf8('small')))).toBe('01');
  });

  it('works again once space is freed', () => {
    const { store } = open({ maxPageCount: 64 });
    let n = 0;
    const error = thrownBy(() => {
      for (;;) store.kvPut('ns', utf8(`key-${n++}`), big(2000));
    });
    expectUnavailable(error, 'disk_full');
    for (let i = 0; i < n; i++) store.kvDelete('ns', utf8(`key-${i}`));
    store.kvPut('ns', utf8('again'), big(2000));
    expect(store.kvGet('ns', utf8('again'))?.byteLength).toBe(2000);
  });

  it('fails the call even if it swallowed the error and returned', () => {
    const { store } = open({ maxPageCount: 48 });
    let swallowed: unknown;
    const error = thrownBy(() =>
      store.atomically(() => {
        store.kvPut('ns', utf8('first'), bytes(1));
        try {
          store.kvPut('ns', utf8('huge'), big(100_000));
        } catch (e) {
          swallowed = e; // a guest that ignores UNAVAILABLE
        }
        return 'looks fine';
      }),
    );
    expectUnavailable(swallowed, 'disk_full');
    expect(error).toBe(swallowed);
    expect(store.kvGet('ns', utf8('first'))).toBeUndefined();
  });

  it('fails the whole group when SQLite had to roll the group transaction back', () => {
    const { store } = open({ maxPageCount: 48 });
    const outcomes: string[] = [];
    const request = (key: string, size: number): void => {
      try {
        store.atomically(() => {
          for (let i = 0; i < size; i++) store.kvPut('ns', utf8(`${key}-${i}`), big(2000));
        });
        outcomes.push(`${key}: ok`);
      } catch (e) {
        outcomes.push(`${key}: ${(e as StoreUnavailableError).code}`);
      }
    };
    const error = thrownBy(() =>
      store.transaction(() => {
        request('a', 1);
        request('b', 1000);
        request('c', 1);
      }),
    );
    expectUnavailable(error, 'disk_full');
    // After a FULL error SQLite rolled back the group's transaction: nothing may be acknowledged, and a
    // later request must not silently commit on its own.
    expect(outcomes).toEqual(['a: ok', 'b: disk_full', 'c: disk_full']);
    expect(store.kvList('ns', bytes(), undefined, 10)).toEqual([]);
    // The store is usable again afterwards.
    store.transaction(() => request('d', 1));
    expect(store.kvList('ns', bytes(), undefined, 10).map((k) => Buffer.from(k).toString())).toEqual(['d-0']);
  });
});

describe('SqliteStore with another connection holding the write lock', () => {
  it('fails with store_busy after the short busy timeout, and reads keep working', () => {
    const { store, path } = open({ busyTimeoutMs: 50 });
    store.kvPut('ns', utf8('k'), bytes(1));
    const other = new Database(path);
    defer(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    defer(() => other.inTransaction && other.exec('ROLLBACK'));

    const started = performance.now();
    const error = thrownBy(() => store.atomically(() => store.kvPut('ns', utf8('k'), bytes(2))));
    const waited = performance.now() - started;
    expectUnavailable(error, 'store_busy', /^SQLITE_BUSY/);
    expect(waited).toBeGreaterThanOrEqual(40);
    expect(waited).toBeLessThan(1000);
    expectUnavailable(thrownBy(() => store.kvPut('ns', utf8('k'), bytes(3))), 'store_busy');
    expectUnavailable(
      thrownBy(() => store.appendEvent('s', { partition: 'p', source: 'd', timeMs: 1, payload: bytes() })),
      'store_busy',
    );
    // WAL: readers are not blocked by a writer.
    expect(hex(store.kvGet('ns', utf8('k')))).toBe('01');

    other.exec('ROLLBACK');
    store.atomically(() => store.kvPut('ns', utf8('k'), bytes(4)));
    expect(hex(store.kvGet('ns', utf8('k')))).toBe('04');
  });

  it('takes the write lock when a call starts, so a call cannot fail midway on a lock', () => {
    const { store, path } = open();
    store.kvPut('ns', utf8('k'), bytes(1));
    const other = new Database(path, { timeout: 0 });
    defer(() => other.close());
    store.atomically(() => {
      expect(hex(store.kvGet('ns', utf8('k')))).toBe('01');
      expect(() => other.prepare('INSERT INTO kv (ns, key, value) VALUES (999, x\'01\', x\'01\')').run()).toThrow(/locked|busy/);
      store.kvPut('ns', utf8('k'), bytes(2));
    });
    expect(hex(store.kvGet('ns', utf8('k')))).toBe('02');
  });

  it('waits 100 ms by default, not the 5 s of better-sqlite3', () => {
    const { store, path } = open();
    const other = new Database(path);
    defer(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    defer(() => other.inTransaction && other.exec('ROLLBACK'));
    const started = performance.now();
    expectUnavailable(thrownBy(() => store.kvPut('ns', utf8('k'), bytes(1))), 'store_busy');
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('SqliteStore on a damaged file', () => {
  it('reports corrupt for a file that is not a database', () => {
    const path = join(tempDir('store'), 'store.db');
    writeFileSync(path, Buffer.alloc(8192, 0x42));
    expectUnavailable(thrownBy(() => SqliteStore.open({ path })), 'corrupt', /^SQLITE_NOTADB/);
  });

  it('reports corrupt when damaged pages are read, and integrityCheck names the damage', () => {
    const path = join(tempDir('store'), 'store.db');
    SqliteStore.open({ path }).close();
    // The schema and the tables' root pages stay intact: only pages written for the events are damaged.
    const schemaBytes = statSync(path).size;
    const writer = SqliteStore.open({ path });
    writer.atomically(() => {
      for (let i = 0; i < 2000; i++) writer.appendEvent('s', { partition: 'p', source: `d${i}`, timeMs: i, payload: big(8) });
    });
    writer.close();
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    for (let offset = schemaBytes; offset < size; offset += 1024) writeSync(fd, Buffer.alloc(200, 0xab), 0, 200, offset + 8);
    closeSync(fd);

    const store = SqliteStore.open({ path });
    defer(() => store.close());
    expectUnavailable(thrownBy(() => store.readEvents('s')), 'corrupt', /^SQLITE_CORRUPT/);
    expect(store.integrityCheck()).not.toBe('ok');
  });
});

describe('SqliteStore after close', () => {
  it('fails every call with store_closed, and close is idempotent', () => {
    const path = join(tempDir('store'), 'store.db');
    const store = SqliteStore.open({ path });
    store.close();
    store.close();
    expectUnavailable(thrownBy(() => store.kvGet('ns', bytes(1))), 'store_closed');
    expectUnavailable(thrownBy(() => store.kvPut('ns', bytes(1), bytes(1))), 'store_closed');
    expectUnavailable(thrownBy(() => store.atomically(() => 1)), 'store_closed');
  });
});
