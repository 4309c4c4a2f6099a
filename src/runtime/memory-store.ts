import type { AppendOutcome, GuestStore, StoredEvent } from './store.js';

type Undo = () => void;

/**
 * A {@link GuestStore} in memory, for tests of the runtime. Bytes passed in are copied and bytes handed
 * out are fresh copies, as with a real store, so a guest's memory is never aliased.
 */
export class MemoryStore implements GuestStore {
  /** namespace -> key as a latin1 string (one char per byte, so string order is byte order) -> value. */
  private readonly namespaces = new Map<string, Map<string, Uint8Array>>();
  /** stream -> `${timeMs}:${source}` -> event. */
  private readonly streams = new Map<string, Map<string, StoredEvent>>();
  /** One undo log per open `atomically` level, innermost last. */
  private readonly undoLogs: Undo[][] = [];

  atomically<T>(fn: () => T): T {
    const log: Undo[] = [];
    this.undoLogs.push(log);
    let result: T;
    try {
      result = fn();
      if (isThenable(result)) throw new TypeError('atomically: the function must be synchronous (it returned a promise)');
    } catch (error) {
      this.undoLogs.pop();
      for (let i = log.length - 1; i >= 0; i--) log[i]!();
      throw error;
    }
    this.undoLogs.pop();
    // Committed into the enclosing level: its rollback must undo these writes too.
    const parent = this.undoLogs[this.undoLogs.length - 1];
    if (parent !== undefined) for (const undo of log) parent.push(undo);
    return result;
  }

  kvGet(namespace: string, key: Uint8Array): Uint8Array | undefined {
    return this.namespaces.get(namespace)?.get(latin1(key))?.slice();
  }

  kvPut(namespace: string, key: Uint8Array, value: Uint8Array): void {
    let entries = this.namespaces.get(namespace);
    if (entries === undefined) this.namespaces.set(namespace, (entries = new Map()));
    const k = latin1(key);
    const previous = entries.get(k);
    entries.set(k, value.slice());
    const map = entries;
    this.record(previous === undefined ? () => map.delete(k) : () => map.set(k, previous));
  }

  kvDelete(namespace: string, key: Uint8Array): boolean {
    const entries = this.namespaces.get(namespace);
    const k = latin1(key);
    const previous = entries?.get(k);
    if (entries === undefined || previous === undefined) return false;
    entries.delete(k);
    this.record(() => entries.set(k, previous));
    return true;
  }

  kvList(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[] {
    const entries = this.namespaces.get(namespace);
    if (entries === undefined || !(limit >= 1)) return [];
    const p = latin1(prefix);
    const a = after === undefined ? undefined : latin1(after);
    const keys: string[] = [];
    for (const k of entries.keys()) if (k.startsWith(p) && (a === undefined || k > a)) keys.push(k);
    keys.sort();
    return keys.slice(0, Math.floor(limit)).map((k) => new Uint8Array(Buffer.from(k, 'latin1')));
  }

  appendEvent(stream: string, event: StoredEvent): AppendOutcome {
    let log = this.streams.get(stream);
    if (log === undefined) this.streams.set(stream, (log = new Map()));
    const id = `${event.timeMs}:${event.source}`;
    const stored = log.get(id);
    if (stored !== undefined) {
      return stored.partition === event.partition && bytesEqual(stored.payload, event.payload) ? 'duplicate' : 'conflict';
    }
    log.set(id, { partition: event.partition, source: event.source, timeMs: event.timeMs, payload: event.payload.slice() });
    const map = log;
    this.record(() => map.delete(id));
    return 'new';
  }

  /** Every event of `stream` in `(timeMs, source)` order (source as UTF-8 bytes), as copies. */
  events(stream: string): StoredEvent[] {
    const events = [...(this.streams.get(stream)?.values() ?? [])].map((e) => ({ ...e, payload: e.payload.slice() }));
    return events.sort(
      (x, y) => x.timeMs - y.timeMs || Buffer.compare(Buffer.from(x.source), Buffer.from(y.source)),
    );
  }

  /** Number of events in `stream`'s log. */
  countEvents(stream: string): number {
    return this.streams.get(stream)?.size ?? 0;
  }

  private record(undo: Undo): void {
    this.undoLogs[this.undoLogs.length - 1]?.push(undo);
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
