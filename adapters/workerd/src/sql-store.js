/**
 * The guest's store on a Durable Object's SQLite (`ctx.storage.sql`): a key-value namespace per module
 * version, keys compared as bytes (SQLite compares BLOBs with memcmp), and the event log deduplicated on
 * `(source, time)` answering new, duplicate or conflict as src/store/event-log.ts does. All SQL is here.
 */

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS event (stream TEXT NOT NULL, time_ms INTEGER NOT NULL, source TEXT NOT NULL,
     partition TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream, time_ms, source)) WITHOUT ROWID`,
  // Events the guest could not fold: kept, reported, not aggregated (the node's fold journal quarantine).
  `CREATE TABLE IF NOT EXISTS unfolded (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, time_ms INTEGER NOT NULL, source TEXT NOT NULL, partition TEXT NOT NULL, payload BLOB NOT NULL)`,
];

/** The store failed under a host call (disk full, I/O error); the call fails with `store_unavailable`. */
export class StoreUnavailableError extends Error {
  name = 'StoreUnavailableError';
  constructor(message, code, options) {
    super(message, options);
    this.code = code;
  }
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The smallest key greater than every key that starts with `prefix`, or undefined if there is none. */
function prefixEnd(prefix) {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const high = prefix.slice(0, end);
  high[end - 1] += 1;
  return high;
}

export class SqlStore {
  /** @param {SqlStorage} sql */
  constructor(sql) {
    this.sql = sql;
    for (const statement of SCHEMA) sql.exec(statement);
  }

  /** Runs a statement; an SQLite failure becomes StoreUnavailableError (an ABI `UNAVAILABLE`). */
  exec(query, ...bindings) {
    try {
      return this.sql.exec(query, ...bindings).toArray();
    } catch (error) {
      const code = /SQLITE_FULL|storage limit/i.test(String(error)) ? 'disk_full' : 'io_error';
      throw new StoreUnavailableError(`the Durable Object's SQLite failed: ${String(error)}`, code, { cause: error });
    }
  }

  kvGet(namespace, key) {
    const [row] = this.exec('SELECT value FROM kv WHERE ns = ? AND key = ?', namespace, key);
    return row === undefined ? undefined : new Uint8Array(row.value);
  }

  kvPut(namespace, key, value) {
    this.exec('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value', namespace, key, value);
  }

  kvDelete(namespace, key) {
    const existed = this.exec('SELECT 1 AS one FROM kv WHERE ns = ? AND key = ?', namespace, key).length > 0;
    if (existed) this.exec('DELETE FROM kv WHERE ns = ? AND key = ?', namespace, key);
    return existed;
  }

  /** Up to `limit` keys that start with `prefix` and sort strictly after `after`, in byte order. */
  kvList(namespace, prefix, after, limit) {
    const count = Math.min(Math.floor(limit), 0x7fffffff);
    if (!(count > 0)) return [];
    let low = prefix;
    if (after !== undefined) {
      // after + 0x00 is the smallest key sorting strictly after `after`.
      const successor = new Uint8Array(after.length + 1);
      successor.set(after);
      if (compareBytes(successor, low) > 0) low = successor;
    }
    const high = prefixEnd(prefix);
    const rows =
      high === undefined
        ? this.exec('SELECT key FROM kv WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?', namespace, low, count)
        : this.exec('SELECT key FROM kv WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?', namespace, low, high, count);
    return rows.map((row) => new Uint8Array(row.key));
  }

  /**
   * Appends `event` unless its identity `(source, timeMs)` is in the stream's log: `'duplicate'` when
   * the stored one has the same partition and payload, `'conflict'` when not (the stored one stays).
   */
  appendEvent(stream, event) {
    const [stored] = this.exec('SELECT partition, payload FROM event WHERE stream = ? AND time_ms = ? AND source = ?', stream, event.timeMs, event.source);
    if (stored === undefined) {
      this.exec('INSERT INTO event (stream, time_ms, source, partition, payload) VALUES (?, ?, ?, ?, ?)', stream, event.timeMs, event.source, event.partition, event.payload);
      return 'new';
    }
    return stored.partition === event.partition && sameBytes(new Uint8Array(stored.payload), event.payload) ? 'duplicate' : 'conflict';
  }

  /** Keeps events the guest could not fold. */
  quarantine(stream, events) {
    for (const e of events) {
      this.exec('INSERT INTO unfolded (stream, time_ms, source, partition, payload) VALUES (?, ?, ?, ?, ?)', stream, e.timeMs, e.source, e.partition, e.payload);
    }
  }
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
