/** How the `durability` and `group-commit` settings are kept (README, "Durability"). */
import { StoreUnavailableError } from '../runtime/index.js';
import { WalSyncer } from '../store/index.js';
import type { Settings } from './settings.js';

export interface DurabilityPlan {
  /** SQLite's own `synchronous` pragma. */
  sqliteSynchronous: 'full' | 'normal';
  /** The WAL is fdatasynced by the node before a commit group is acknowledged. */
  syncWal: boolean;
  /** At most this many requests share a transaction; undefined: no bound. */
  maxGroupSize: number | undefined;
  /** How long a commit group may wait for more requests (`commit-window-ms`; 0 without group commit). */
  commitWindowMs: number;
}

/**
 * - full with group commit: SQLite appends without syncing, and the WAL is fdatasynced off the event
 *   loop before a group is acknowledged (the guarantee of synchronous=FULL, pipelined);
 * - full without group commit: SQLite's own synchronous=FULL, one transaction and fsync per request;
 * - normal: no fsync at all; the OS writes later (a crash of the process loses nothing, a power cut may).
 * With group commit, a group waits up to `commit-window-ms` for more requests when they arrive slowly: one
 * WAL append and fsync then covers them all (docs/operations.md, "Flash wear and the commit window").
 */
export function durabilityPlan(settings: Settings): DurabilityPlan {
  const group = settings['group-commit'];
  const commitWindowMs = group ? settings['commit-window-ms'] : 0;
  if (settings.durability === 'normal') return { sqliteSynchronous: 'normal', syncWal: false, maxGroupSize: group ? undefined : 1, commitWindowMs };
  return group
    ? { sqliteSynchronous: 'normal', syncWal: true, maxGroupSize: undefined, commitWindowMs }
    : { sqliteSynchronous: 'full', syncWal: false, maxGroupSize: 1, commitWindowMs };
}

/** The WAL's fsync as the write path awaits it: a failure is the store's `io_error`. */
export function durableWal(walSyncer: WalSyncer): () => Promise<void> {
  return () =>
    walSyncer.sync().catch((error: unknown) => {
      throw new StoreUnavailableError(`fsync of the WAL failed: ${String(error)}`, 'io_error', { cause: error });
    });
}
