/** Small facts about the database by name (table `store_meta`), e.g. whether the digests cover every event. */
import type Database from 'better-sqlite3';

export type MetaValue = number | string | Buffer | null;

export class StoreMeta {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      get: db.prepare<[key: string], MetaValue>('SELECT value FROM store_meta WHERE key = ?').pluck(),
      set: db.prepare<[key: string, value: MetaValue]>('INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)'),
      delete: db.prepare<[key: string]>('DELETE FROM store_meta WHERE key = ?'),
    };
  }

  /** The value of `key`, or undefined when it is not set. Runs inside the caller's guard. */
  get(key: string): MetaValue | undefined {
    return this.sql.get.get(key);
  }

  set(key: string, value: MetaValue): void {
    this.sql.set.run(key, value);
  }

  delete(key: string): void {
    this.sql.delete.run(key);
  }
}
