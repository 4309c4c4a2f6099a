/**
 * The node's durable store: a SQLite database (WAL) holding each module version's key-value namespace and
 * each module's deduplicated event log. The Wasm host sees it only as a `GuestStore`.
 */
export {
  SqliteStore,
  eventHash,
  DIGEST_BUCKET_MS,
  type EventDigest,
  type EventDigestQuery,
  type OutboxEntry,
  type ReadEventsInRangeOptions,
  type EventCursor,
  type EventPage,
  type ReadEventsOptions,
  type SqliteStoreOptions,
} from './sqlite-store.js';
export { StoreVersionError } from './errors.js';
export { SCHEMA_VERSION } from './sql.js';
export { WalSyncer } from './wal-sync.js';
