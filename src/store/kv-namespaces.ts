/** The key-value namespaces of module versions (table `kv`): the guest's `kv_*` host calls. */
import type { Connection } from './connection.js';
import { toBuffer } from './bytes.js';

const ZERO_BYTE = Buffer.from([0]);

export class KvNamespaces {
  private readonly sql;

  constructor(private readonly conn: Connection) {
    const { db } = conn;
    this.sql = {
      get: db.prepare<[ns: number, key: Buffer], Buffer>('SELECT value FROM kv WHERE ns = ? AND key = ?').pluck(),
      put: db.prepare<[ns: number, key: Buffer, value: Buffer]>(
        'INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value',
      ),
      delete: db.prepare<[ns: number, key: Buffer]>('DELETE FROM kv WHERE ns = ? AND key = ?'),
      clear: db.prepare<[ns: number, limit: number]>('DELETE FROM kv WHERE id IN (SELECT id FROM kv WHERE ns = ? LIMIT ?)'),
      /** Keys from `low` (inclusive) to the end of the namespace. */
      listFrom: db
        .prepare<[ns: number, low: Buffer, limit: number], Buffer>('SELECT key FROM kv WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?')
        .pluck(),
      /** Keys from `low` (inclusive) to `high` (exclusive). */
      listRange: db
        .prepare<[ns: number, low: Buffer, high: Buffer, limit: number], Buffer>(
          'SELECT key FROM kv WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?',
        )
        .pluck(),
    };
  }

  get(namespace: string, key: Uint8Array): Uint8Array | undefined {
    return this.conn.guard(() => {
      const ns = this.conn.symbols.lookup(namespace);
      return ns === undefined ? undefined : this.sql.get.get(ns, toBuffer(key));
    });
  }

  put(namespace: string, key: Uint8Array, value: Uint8Array): void {
    this.conn.guard(() => this.conn.write(() => this.sql.put.run(this.conn.symbols.intern(namespace), toBuffer(key), toBuffer(value))));
  }

  delete(namespace: string, key: Uint8Array): boolean {
    return this.conn.guard(() => {
      const ns = this.conn.symbols.lookup(namespace);
      return ns !== undefined && this.conn.write(() => this.sql.delete.run(ns, toBuffer(key)).changes > 0);
    });
  }

  /** Deletes up to `limit` records of `namespace` (any); returns how many it deleted. */
  clear(namespace: string, limit: number): number {
    return this.conn.guard(() => {
      const ns = this.conn.symbols.lookup(namespace);
      return ns === undefined ? 0 : this.conn.write(() => this.sql.clear.run(ns, limit).changes);
    });
  }

  list(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[] {
    return this.conn.guard(() => {
      const count = Math.min(Math.floor(limit), 0x7fffffff);
      if (!(count > 0)) return [];
      const ns = this.conn.symbols.lookup(namespace);
      if (ns === undefined) return [];
      let low = toBuffer(prefix);
      if (after !== undefined) {
        // after + 0x00 is the smallest key sorting strictly after `after`.
        const successor = Buffer.concat([after, ZERO_BYTE]);
        if (Buffer.compare(successor, low) > 0) low = successor;
      }
      const high = prefixEnd(prefix);
      return high === undefined ? this.sql.listFrom.all(ns, low, count) : this.sql.listRange.all(ns, low, high, count);
    });
  }
}

/** The smallest key greater than every key starting with `prefix`, or undefined if there is none. */
function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const high = Buffer.from(prefix.subarray(0, end));
  high[end - 1] = high[end - 1]! + 1;
  return high;
}
