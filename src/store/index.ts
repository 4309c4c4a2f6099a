/**
 * The node's durable store: a SQLite database (WAL) holding each module version's key-value namespace,
 * each module's deduplicated event log and fold journal, and what replication keeps (outbox, digests).
 * The Wasm host sees it only as a `GuestStore`; src/ingest takes its `foldJournal(module)`, src/replication
 * the store itself as its `ReplicationStore`.
 */
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { eventHash, DIGEST_BUCKET_MS, type EventDigest, type EventDigestQuery } from './digests.js';
export type { OutboxEntry } from './outbox.js';
export type { TokenRevocation } from './revocations.js';
export type { ReadEventsInRangeOptions, EventCursor, EventPage, ReadEventsOptions } from './event-log.js';
export { StoreVersionError } from './errors.js';
export { SCHEMA_VERSION } from './migrations.js';
export { StoreSnapshot, type KvEntry } from './snapshot.js';
export type { DeploymentRecords, ModuleVersionRow, DeploymentHistoryRow } from './deployment-records.js';
export { WalSyncer } from './wal-sync.js';
export { WriteJournal, journalPaths, type WriteJournalOptions } from './write-journal.js';
export { replayJournal, encodeGroup, decodeGroup, applyGroup, pendingJournalEvents, syncWal, type JournaledEvent, type JournalReplay } from './journal-replay.js';
export { StoreRetention, type PruneRule, type SpaceUsage } from './retention.js';
export { backupDatabase, quickCheck, EventLogReader, type DatabaseBackup, type EventRange } from './backup.js';
