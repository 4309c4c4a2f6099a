/**
 * Stream, partition and namespace names interned into small integers (table `symbol`), so that rows stay
 * small, with a cache of the names already looked up.
 */
import type Database from 'better-sqlite3';

/** Interned names kept in memory; past this many the cache starts over (guests choose partition names). */
const MAX_CACHED_SYMBOLS = 10_000;

export class SymbolTable {
  private readonly cache = new Map<string, number>();
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      id: db.prepare<[name: string], number>('SELECT id FROM symbol WHERE name = ?').pluck(),
      insert: db.prepare<[name: string]>('INSERT INTO symbol (name) VALUES (?)'),
      name: db.prepare<[id: number], string>('SELECT name FROM symbol WHERE id = ?').pluck(),
    };
  }

  /** The id of `name`, or undefined when it was never interned. */
  lookup(name: string): number | undefined {
    let id = this.cache.get(name);
    if (id === undefined) {
      id = this.sql.id.get(name);
      if (id !== undefined) this.remember(name, id);
    }
    return id;
  }

  /** The id of `name`, interning it (a write) when it is new. */
  intern(name: string): number {
    let id = this.lookup(name);
    if (id === undefined) {
      id = Number(this.sql.insert.run(name).lastInsertRowid);
      this.remember(name, id);
    }
    return id;
  }

  /** The name of `id`, through `names`: a cache the caller keeps for one operation. */
  name(id: number, names: Map<number, string>): string {
    let name = names.get(id);
    if (name === undefined) {
      name = this.sql.name.get(id);
      if (name === undefined) throw new Error(`no symbol ${id}`);
      names.set(id, name);
    }
    return name;
  }

  /** Drops the cache: a rollback may have undone names it holds. */
  forget(): void {
    this.cache.clear();
  }

  private remember(name: string, id: number): void {
    if (this.cache.size >= MAX_CACHED_SYMBOLS) this.cache.clear();
    this.cache.set(name, id);
  }
}
