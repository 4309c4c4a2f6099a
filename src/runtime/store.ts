/**
 * The store as the Wasm host sees it: a key-value namespace per module version, and an
 * append-only, deduplicated event log shared by the versions of a module.
 *
 * The runtime imports nothing from SQLite; the node wires a real store (src/store) in, and tests
 * use {@link MemoryStore}. Every implementation must pass test/conformance/store-conformance.ts.
 *
 * All methods are synchronous: guests call them from inside a WebAssembly call, which cannot await.
 */
export interface GuestStore {
  /**
   * Runs `fn` so that every write inside it is kept if `fn` returns, and none is if it throws.
   * Calls nest: an inner failure undoes only the inner writes.
   */
  atomically<T>(fn: () => T): T;

  /** The value under `key` in `namespace`, or undefined. */
  kvGet(namespace: string, key: Uint8Array): Uint8Array | undefined;
  /** Sets `key` to `value` in `namespace`, replacing any value. */
  kvPut(namespace: string, key: Uint8Array, value: Uint8Array): void;
  /** Removes `key`; true if it existed. */
  kvDelete(namespace: string, key: Uint8Array): boolean;
  /**
   * Up to `limit` keys of `namespace` that start with `prefix` and sort strictly after `after`
   * (byte order), in ascending byte order.
   */
  kvList(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[];

  /**
   * Appends `event` to the event log of `stream` unless its identity `(source, timeMs)` is already
   * there. `'duplicate'` when the stored event has the same partition and payload, `'conflict'`
   * when it differs (the stored one stays).
   */
  appendEvent(stream: string, event: StoredEvent): AppendOutcome;
}

/** One event: for the aggregator, a reading (partition = region, source = device id). */
export interface StoredEvent {
  /** What the event is grouped by for replication and digests (the region). 1-64 bytes of UTF-8. */
  partition: string;
  /** Who produced it (the device id). 1-128 bytes of UTF-8. */
  source: string;
  /** When it happened, integer milliseconds since the Unix epoch. With `source`, its identity. */
  timeMs: number;
  /** Guest-defined bytes, at most 4 KiB. */
  payload: Uint8Array;
}

export type AppendOutcome = 'new' | 'duplicate' | 'conflict';

/** Raised by a store when it cannot do what was asked (disk full, I/O error, busy). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(
    message: string,
    /** A stable code for clients and metrics, e.g. `disk_full`, `store_busy`, `io_error`. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
