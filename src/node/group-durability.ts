/**
 * How a commit group becomes durable before it is acknowledged (promise 1: a 2xx means on disk).
 *
 * With the write journal (the default, `db-commit-interval-ms` > 0): the group stays in SQLite's held
 * transaction (Connection.transaction with `hold`) and its new events are appended to the write journal
 * (src/store/write-journal.ts): a few hundred bytes, one or two sectors, synced. The database takes the held
 * groups in one commit every `db-commit-interval-ms` (or sooner, when the journal fills or many events are
 * held), its WAL is synced, and the journal moves to its other file. A crash loses the held transaction but
 * not the journal: the next start applies the journaled groups again (src/store/journal-replay.ts).
 * SQLite's WAL rewrites every page a commit touched, so one large commit every few seconds instead of one
 * per group is most of the flash wear saved (BENCHMARKS.md, issue 17).
 *
 * A group that changed more than its events (a guest that wrote keys while answering a request), one too
 * large for a journal record, or one that arrives when the journal is full or failed, is made durable the
 * way every group was before: the held transaction is committed and the WAL fdatasynced.
 *
 * Without the journal, every group is committed and the WAL synced (src/store/wal-sync.ts).
 */
import { statfsSync } from 'node:fs';
import type { DurableGroup } from '../ingest/index.js';
import { StoreUnavailableError } from '../runtime/index.js';
import { applyGroup, decodeGroup, encodeGroup, type SqliteStore, type WalSyncer, type WriteJournal } from '../store/index.js';
import type { Logger, WriteJournalStatus } from '../telemetry/index.js';

/** After a failed journal write, groups are committed one by one for at least this long before it is tried again. */
const JOURNAL_RETRY_MS = 10_000;
/** The database commits the held groups once their events hold this many bytes (a bound on what they dirty). */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
/** Room, in the database's size cap and on its file system, below which groups are not held: several times MAX_HELD_BYTES, for the pages, the WAL and the folds. */
const ROOM_TO_HOLD = 32 * 1024 * 1024;
/** What an event adds to the pages of the log, the fold journal and the digests beyond its payload and source. */
const HELD_BYTES_PER_EVENT = 64;

export interface GroupDurabilityOptions {
  store: SqliteStore;
  wal: WalSyncer;
  /** undefined: no write journal, every group is committed and synced. */
  journal: WriteJournal | undefined;
  /** How long a journaled group may wait for the database's commit. */
  commitIntervalMs: number;
  /** The data directory: groups are held only while its file system has room (see ROOM_TO_HOLD). */
  dataDir: string;
  /** Held events past which the database commits at once (bounds SQLite's memory and a restart's replay). @default 50,000 */
  maxHeldEvents?: number;
  /**
   * The database also commits what is held once no group came for this long: an idle node holds nothing, so
   * another process (`edgeagg token revoke`) can write to the database. @default 1000
   */
  idleCommitMs?: number;
  logger: Logger;
}

export class GroupDurability {
  private readonly maxHeldEvents: number;
  private timer: NodeJS.Timeout | undefined;
  private heldEvents = 0;
  /** The journal records of the held groups, to apply them again if SQLite drops the held transaction. */
  private held: Uint8Array[] = [];
  /** Whether there was room to hold groups when last measured, and when (performance.now()). */
  private roomy = { ok: true, at: -Infinity };
  /** Bytes of events held (payloads and keys), a bound on the pages the held transaction dirties. */
  private heldBytes = 0;
  /**
   * Commits of the held groups made here (numbered), the last one known synced, and the one at which the
   * journal last moved to its other file: the file it left holds only records of that commit or before, so it
   * may be written over once that commit is synced.
   */
  private commits = { made: 0, synced: 0, rotatedAt: 0 };
  private rotationPending = false;
  /** The last sync of the WAL a group must not be acknowledged before (a group committed through it). */
  private walSync: Promise<void> | undefined;
  private closed = false;
  /** Checks every idleCommitMs whether the node is idle and holds something. */
  private readonly idle: NodeJS.Timeout | undefined;
  private lastGroupAt = 0;
  /** When the journal failed (performance.now()); undefined: it works. */
  private journalFailedAt: number | undefined;
  /** Told after the store lost the held transaction and the held groups were applied again (their folds were lost). */
  onReapplied: (() => void) | undefined;

  constructor(private readonly options: GroupDurabilityOptions) {
    this.maxHeldEvents = options.maxHeldEvents ?? 50_000;
    if (options.journal) {
      const journal = options.journal;
      options.store.holdHooks({
        // Every commit of the held groups records the last journal record it holds, and forgets them.
        beforeCommit: () => options.store.setJournalMark(journal.lastLsn),
        committed: () => {
          this.held = [];
          this.heldEvents = 0;
          this.heldBytes = 0;
        },
        lost: () => this.reapply(),
      });
      const idleMs = options.idleCommitMs ?? 1000;
      // Also what a fold or a read opened after the last commit: nothing else would commit it while idle.
      this.idle = setInterval(() => {
        if (options.store.holding && !this.rotationPending && performance.now() - this.lastGroupAt >= idleMs) void this.timedCommit();
      }, idleMs);
      this.idle.unref();
    }
  }

  /** The pipeline's `sync`: resolves once `group` (and every group before it) is durable. */
  readonly sync = async (group: DurableGroup): Promise<void> => {
    const { journal, store } = this.options;
    this.lastGroupAt = performance.now();
    if (journal && store.holding && group.eventsOnly) {
      const body = group.events.length > 0 ? encodeGroup(group.events) : undefined;
      const appended = body ? journal.append(body) : undefined;
      if (appended || !body) {
        if (body) {
          this.held.push(body);
          this.heldEvents += group.events.length;
          for (const { event } of group.events) this.heldBytes += event.payload.length + event.source.length + HELD_BYTES_PER_EVENT;
          this.scheduleCommit();
        }
        try {
          // A group with no new events changed nothing, but answers about events of groups before it.
          await (appended ? appended.written : journal.flushed());
          await this.walSync;
          return;
        } catch (error) {
          this.journalFailedAt = performance.now();
          this.options.logger.error('the write journal failed; commit groups go to the database one by one until it works again', { error });
        }
      }
    }
    await this.commitAndSync();
    this.retryJournal();
  };

  /** A while after the journal failed, and with everything committed and synced: it takes records again. */
  private retryJournal(): void {
    const { journal, store } = this.options;
    if (this.journalFailedAt === undefined || !journal || store.holding) return;
    if (performance.now() - this.journalFailedAt < JOURNAL_RETRY_MS) return;
    if (journal.restart()) {
      this.journalFailedAt = undefined;
      this.options.logger.info('the write journal takes writes again');
    }
  }

  /**
   * The pipeline's `holdTransactions`: whether the next group may be held (and journaled). Not when the journal
   * failed, and not without room: when SQLite runs out of space inside a transaction it rolls the whole of it
   * back, every held group with it, so the database and its file system must keep room for what may be held
   * (measured at most once a second).
   */
  readonly hold = (): boolean => {
    const { journal, store, dataDir } = this.options;
    if (!journal?.usable) return false;
    const now = performance.now();
    if (now - this.roomy.at >= 1000) {
      let ok = false;
      try {
        const usage = store.retention().usage();
        const fs = statfsSync(dataDir);
        ok = usage.capBytes - usage.usedBytes >= ROOM_TO_HOLD && fs.bavail * fs.bsize >= ROOM_TO_HOLD;
      } catch {
        // Unknown: commit each group, as without the journal.
      }
      this.roomy = { ok, at: now };
    }
    return this.roomy.ok;
  };

  /** How groups are made durable now, and what is held (the `edgeagg_write_journal_*` metrics). */
  status(): WriteJournalStatus {
    const { journal } = this.options;
    if (!journal) return { state: 'off', held: 0 };
    if (!journal.usable || !this.roomy.ok) return { state: 'paused', held: this.heldEvents };
    return { state: journal.direct ? 'direct' : 'page_cache', held: this.heldEvents };
  }

  /** Resolves once everything committed or journaled so far is durable (replication publishes only then). */
  readonly durable = async (): Promise<void> => {
    await this.options.journal?.flushed();
    await this.syncWal();
  };

  /** Commits the held groups and syncs the WAL, now (a test's way to reach the database's state at once). */
  async commitNow(): Promise<void> {
    await this.commitAndSync(true);
  }

  /** For a stop: commits and syncs what is held, and closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.timer);
    clearInterval(this.idle);
    this.timer = undefined;
    try {
      await this.commitAndSync();
    } finally {
      this.closed = true;
      await this.options.journal?.flushed();
      this.options.journal?.close();
    }
  }

  private scheduleCommit(): void {
    const { journal } = this.options;
    const full =
      this.heldEvents >= this.maxHeldEvents || this.heldBytes >= MAX_HELD_BYTES || (journal !== undefined && journal.used * 2 >= journal.fileBytes);
    if (full) {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.rotationPending) {
        this.rotationPending = true;
        setImmediate(() => void this.timedCommit());
      }
      return;
    }
    if (this.timer || this.rotationPending) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.timedCommit();
    }, this.options.commitIntervalMs);
    this.timer.unref();
  }

  /** The database takes the held groups; the journal moves to its other file once that is allowed. */
  private async timedCommit(): Promise<void> {
    this.rotationPending = true;
    try {
      if (this.closed) return;
      await this.commitAndSync(true);
    } catch (error) {
      this.options.logger.error('the database could not take the journaled writes; they stay in the write journal', { error });
    } finally {
      this.rotationPending = false;
      if (this.heldEvents > 0) this.scheduleCommit();
    }
  }

  /**
   * Commits the held groups and resolves once the WAL is synced. With `rotate`, appends move to the other
   * journal file at the commit, when that file is free: the commit of the previous move is synced (a failed
   * sync keeps it in use until a later one succeeds, which covers it) and no record waits to be written to it.
   */
  private async commitAndSync(rotate = false): Promise<void> {
    const { store, journal } = this.options;
    store.commitHeld();
    const commit = ++this.commits.made;
    if (rotate && journal?.canRotate && this.commits.synced >= this.commits.rotatedAt) {
      journal.rotate();
      this.commits.rotatedAt = commit;
    }
    await this.syncWal();
    this.commits.synced = Math.max(this.commits.synced, commit);
  }

  /** One fdatasync of the WAL (shared with any that starts meanwhile); groups acknowledged later wait for it. */
  private syncWal(): Promise<void> {
    const synced = this.options.wal.sync().catch((error: unknown) => {
      throw new StoreUnavailableError(`fsync of the WAL failed: ${String(error)}`, 'io_error', { cause: error });
    });
    this.walSync = synced.catch(() => undefined);
    return synced;
  }

  /** SQLite dropped the held transaction (an I/O error): applies the held groups again, in a new one. */
  private reapply(): void {
    const { store, logger } = this.options;
    const records = this.held;
    logger.error('the database dropped uncommitted journaled writes; applying them again from the write journal', { groups: records.length });
    store.transaction(() => {
      for (const record of records) applyGroup(store, decodeGroup(record));
    }, { hold: true });
    this.onReapplied?.();
  }
}
