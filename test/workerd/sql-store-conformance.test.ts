/**
 * The Worker's store (adapters/workerd/src/sql-store.js) passes the GuestStore conformance suite. Its SQL runs
 * here on better-sqlite3, standing in for a Durable Object's `ctx.storage.sql` (the same `exec(query,
 * ...bindings)` shape); `atomically` is `transactionSync` there and a savepoint here. workerd's own SQLite and
 * bindings are exercised by differential.test.ts.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GuestStore } from '../../src/runtime/store.js';
import { describeStoreConformance } from '../conformance/store-conformance.js';
import { ROOT } from '../helpers/guests.js';

type WorkerStore = Omit<GuestStore, 'atomically'>;
const { SqlStore } = (await import(pathToFileURL(join(ROOT, 'adapters', 'workerd', 'src', 'sql-store.js')).href)) as {
  SqlStore: new (sql: { exec(query: string, ...bindings: unknown[]): { toArray(): unknown[] } }) => WorkerStore;
};

describeStoreConformance('the Worker SqlStore', () => {
  const db = new Database(':memory:');
  const sql = {
    exec(query: string, ...bindings: unknown[]) {
      const statement = db.prepare(query);
      const rows = statement.reader ? statement.all(...bindings) : (statement.run(...bindings), []);
      return { toArray: () => rows };
    },
  };
  const store = new SqlStore(sql);
  const guestStore: GuestStore = {
    atomically: (fn) => db.transaction(fn)(),
    kvGet: (ns, key) => store.kvGet(ns, key),
    kvPut: (ns, key, value) => store.kvPut(ns, key, value),
    kvDelete: (ns, key) => store.kvDelete(ns, key),
    kvList: (ns, prefix, after, limit) => store.kvList(ns, prefix, after, limit),
    appendEvent: (stream, event) => store.appendEvent(stream, event),
  };
  return { store: guestStore, close: () => db.close() };
});
