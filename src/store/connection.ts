/**
 * The store's connection to its database: opening it (pragmas, migrations), transactions that nest, and
 * {@link Connection.guard}, the one wrapper every operation of the store runs in.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../runtime/index.js';
import { StoreVersionError, toStoreError } from './errors.js';
import { migrate, MIGRATIONS } from './migrations.js';
import { SymbolTable } from './symbols.js';

export interface ConnectionSettings {
  /** `:memory:` (or '') for a private in-memory database. */
  path: string;
  pageSize: number;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  walAutocheckpointPages: number;
  maxPageCount: number | undefined;
}

/** What the owner of held transactions is told (see Connection.holdHooks). */
export interface HoldHooks {
  /** Inside the held transaction, just before it commits: writes what must commit with it. */
  beforeCommit: () => void;
  /** Once it committed. */
  committed: () => void;
  /**
   * SQLite ended it by itself (a full disk rolls back the whole transaction): applies what it held again, before
   * any other operation runs; until it returns without throwing, every operation asks it again.
   */
  lost: () => void;
}

/** Bytes a WAL may keep on disk after a checkpoint, so one huge transaction does not pin its size forever. */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** Applies the connection's pragmas. `page_size` only takes effect on a database that has no pages yet. */
function configure(db: Database.Database, settings: ConnectionSettings): void {
  db.pragma(`page_size = ${Math.trunc(settings.pageSize)}`);
  // Only a database with no pages yet takes it (before WAL mode writes the header): pruning can then give
  // freed pages back a few at a time (src/store/retention.ts).
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`busy_timeout = ${Math.trunc(settings.busyTimeoutMs)}`);
  db.pragma(`wal_autocheckpoint = ${Math.trunc(settings.walAutocheckpointPages)}`);
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  // Temporary B-trees (sorting, GROUP BY) stay off the disk.
  db.pragma('temp_store = MEMORY');
  if (settings.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.trunc(settings.maxPageCount)}`);
}

/**
 * One open database and its transaction state. Writes outside {@link atomically} commit one by one; see
 * SqliteStore for how levels nest and how a store failure fails the level it happened in.
 *
 * A transaction may be held open between outermost levels ({@link transaction} with `hold`): the write path
 * then runs each commit group as a savepoint of one long SQLite transaction, made durable meanwhile by the
 * write journal (src/store/write-journal.ts), and committed to the database by {@link commitHeld} every few
 * seconds: one large commit instead of one per group (flash wear, issue 17). Any other outermost level
 * commits the held transaction first, so it runs and commits as before, and what it writes is never mixed
 * with an uncommitted group.
 */
export class Connection {
  /** Interned names. Forgotten whenever a rollback may have undone some of them. */
  readonly symbols: SymbolTable;
  private readonly sql;
  /** Open `atomically` levels. */
  private depth = 0;
  /** Per open level, the first store failure inside it: the level must not commit. */
  private readonly failures: (StoreUnavailableError | undefined)[] = [];
  /** Set when SQLite ended the whole transaction while levels were still open. */
  private aborted: StoreUnavailableError | undefined;
  private closed = false;
  /** A transaction is open that no level owns: groups held for one large commit. */
  private held = false;
  /** The hooks of the held transaction's owner (HoldHooks). */
  private beforeHeldCommit: (() => void) | undefined;
  private afterHeldCommit: (() => void) | undefined;
  private onHeldLost: (() => void) | undefined;
  /** SQLite ended the held transaction: onHeldLost must apply it again before the next operation. */
  private heldLost = false;
  private recovering = false;

  private constructor(readonly db: Database.Database) {
    this.symbols = new SymbolTable(db);
    this.sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT atomically'),
      release: db.prepare('RELEASE atomically'),
      rollbackTo: db.prepare('ROLLBACK TO atomically'),
      integrityCheck: db.prepare<[], string>('PRAGMA integrity_check').pluck(),
      pageCount: db.prepare<[], number>('PRAGMA page_count').pluck(),
      freelistCount: db.prepare<[], number>('PRAGMA freelist_count').pluck(),
      pageSize: db.prepare<[], number>('PRAGMA page_size').pluck(),
    };
  }

  /** Opens the database at `settings.path`, creating it with its directory, and migrates it. */
  static open(settings: ConnectionSettings): Connection {
    const inMemory = settings.path === ':memory:' || settings.path === '';
    let db: Database.Database;
    try {
      if (!inMemory) createPrivately(settings.path);
      db = new Database(settings.path, { timeout: settings.busyTimeoutMs });
    } catch (error) {
      throw toStoreError(error);
    }
    try {
      configure(db, settings);
      migrate(db, MIGRATIONS, (found, supported) => new StoreVersionError(found, supported));
      return new Connection(db);
    } catch (error) {
      db.close();
      throw toStoreError(error);
    }
  }

  /** Closes the database (checkpointing the WAL). Idempotent; later calls fail with `store_closed`. */
  close(): void {
    if (this.closed) return;
    try {
      this.commitHeld();
    } catch {
      // What it held is in the write journal, applied again at the next start.
    }
    this.closed = true;
    this.db.close();
  }

  /** Sets what the owner of held transactions is told (the write journal's, src/node/group-durability.ts). */
  holdHooks(hooks: HoldHooks): void {
    this.beforeHeldCommit = hooks.beforeCommit;
    this.afterHeldCommit = hooks.committed;
    this.onHeldLost = hooks.lost;
  }

  /** Whether groups are held uncommitted (see {@link transaction}'s `hold`). */
  get holding(): boolean {
    return this.held;
  }

  /**
   * Commits the held transaction, if any (not synced: with `synchronous=NORMAL` the WAL is synced by the
   * caller, or at the next checkpoint). A failed commit throws; the transaction stays held when SQLite kept it
   * open (a busy database), and is lost, to be applied again (HoldHooks.lost), when SQLite rolled it back (a
   * full disk or an I/O error).
   */
  commitHeld(): void {
    if (!this.held || this.depth > 0) return;
    this.check();
    if (!this.held) return;
    try {
      this.beforeHeldCommit?.();
      this.sql.commit.run();
    } catch (error) {
      if (!this.db.inTransaction) this.lostHeld();
      throw toStoreError(error);
    }
    this.held = false;
    this.afterHeldCommit?.();
  }

  /**
   * Runs one operation of the store: refuses it when the store is closed or SQLite ended the open
   * transaction, and translates what it throws ({@link toStoreError}), recording a store failure against
   * the open level so that level cannot commit.
   */
  guard<T>(fn: () => T): T {
    this.check();
    try {
      return fn();
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Runs a write that may take several statements as one commit when no transaction is open. */
  write<T>(fn: () => T): T {
    return this.depth === 0 ? this.atomically(fn) : fn();
  }

  atomically<T>(fn: () => T): T {
    return this.level(fn, false);
  }

  private level<T>(fn: () => T, hold: boolean): T {
    // Any other outermost level commits the held groups first: it then commits alone, as it always did.
    if (this.depth === 0 && this.held && !hold) this.commitHeld();
    this.enter();
    let result: T;
    try {
      result = fn();
      if (isThenable(result)) throw new TypeError('atomically: the function must be synchronous (it returned a promise)');
    } catch (error) {
      this.rollbackLevel(error);
      throw error;
    }
    this.commitLevel();
    return result;
  }

  /**
   * Runs `fn` as the outermost transaction. Throws if a transaction is already open. With `hold`, it runs as a
   * savepoint of the held transaction (opened if none is) and stays uncommitted until {@link commitHeld}:
   * for commits made durable by other means (the write journal).
   */
  transaction<T>(fn: () => T, options?: { hold?: boolean }): T {
    if (this.depth > 0) throw new Error('transaction() opens the outermost transaction; inside one, use atomically()');
    if (options?.hold && !this.held) {
      this.check();
      try {
        this.sql.begin.run();
      } catch (error) {
        throw toStoreError(error);
      }
      this.held = true;
    }
    return this.level(fn, options?.hold ?? false);
  }

  /** Size of the database file in bytes: every page, in use or free (the WAL not counted). */
  sizeBytes(): number {
    return this.guard(() => this.sql.pageCount.get()! * this.sql.pageSize.get()!);
  }

  /** Bytes of free pages in the database file: space it can reuse without growing. */
  freeBytes(): number {
    return this.guard(() => this.sql.freelistCount.get()! * this.sql.pageSize.get()!);
  }

  /** The result of `PRAGMA integrity_check`: `'ok'`, or the problems found, one a line. */
  integrityCheck(): string {
    return this.guard(() => this.sql.integrityCheck.all().join('\n'));
  }

  private enter(): void {
    this.check();
    try {
      (this.depth === 0 && !this.held ? this.sql.begin : this.sql.savepoint).run();
    } catch (error) {
      throw toStoreError(error);
    }
    this.depth++;
    this.failures.push(undefined);
  }

  private commitLevel(): void {
    const failure = this.failures[this.depth - 1];
    if (failure !== undefined) {
      this.rollbackLevel(failure);
      throw failure;
    }
    if (!this.db.inTransaction) {
      const error = this.abortedError();
      this.rollbackLevel(error);
      throw error;
    }
    try {
      (this.depth === 1 && !this.held ? this.sql.commit : this.sql.release).run();
    } catch (error) {
      const mapped = toStoreError(error);
      this.rollbackLevel(mapped);
      throw mapped;
    }
    this.leave();
  }

  /** Undoes the innermost level; `reason` is what made it fail, kept for the levels around it if all is lost. */
  private rollbackLevel(reason: unknown): void {
    const top = this.depth === 1 && !this.held;
    this.symbols.forget();
    try {
      if (this.db.inTransaction) {
        if (top) {
          this.sql.rollback.run();
        } else {
          this.sql.rollbackTo.run();
          this.sql.release.run();
        }
      }
    } catch (undoError) {
      // This level cannot be undone alone: drop the whole transaction so nothing half-written commits.
      try {
        if (this.db.inTransaction) this.sql.rollback.run();
      } catch {
        // Nothing more can be done; the connection reports the state through inTransaction.
      }
      reason = toStoreError(undoError);
    }
    this.leave();
    if (this.depth > 0 && !this.db.inTransaction) this.aborted ??= abortedBy(reason);
    if (this.depth === 0 && this.held && !this.db.inTransaction) this.lostHeld();
  }

  /** SQLite ended the held transaction: what it held must be applied again (onHeldLost) before anything runs. */
  private lostHeld(): void {
    this.held = false;
    this.heldLost = true;
    this.symbols.forget();
  }

  /** Applies the lost held groups again, once, before the next operation (see onHeldLost). */
  private recoverHeld(): void {
    const recover = this.onHeldLost;
    if (!recover) {
      this.heldLost = false;
      return;
    }
    recover();
    this.heldLost = false;
  }

  private leave(): void {
    this.depth--;
    this.failures.pop();
    if (this.depth === 0) this.aborted = undefined;
  }

  private check(): void {
    if (this.closed) throw new StoreUnavailableError('the store is closed', 'store_closed');
    if (this.depth > 0 && !this.db.inTransaction) throw this.abortedError();
    if (this.depth === 0) {
      if (this.held && !this.db.inTransaction) this.lostHeld();
      if (this.heldLost && !this.recovering) {
        this.recovering = true;
        try {
          this.recoverHeld();
        } finally {
          this.recovering = false;
        }
      }
    }
  }

  /** Translates `error`, and records a store failure against the open level so it cannot commit. */
  private fail(error: unknown): unknown {
    const mapped = toStoreError(error);
    if (mapped instanceof StoreUnavailableError && this.depth > 0) {
      const level = this.depth - 1;
      this.failures[level] ??= mapped;
      if (!this.db.inTransaction) {
        this.symbols.forget();
        this.aborted ??= abortedBy(mapped);
      }
    }
    return mapped;
  }

  private abortedError(): StoreUnavailableError {
    return (this.aborted ??= new StoreUnavailableError('the transaction was ended unexpectedly', 'transaction_aborted'));
  }
}

/**
 * Creates the database file (and its directory) readable by this user only, before SQLite opens it: SQLite
 * gives its WAL and shared-memory files the database file's permissions. Files of earlier versions, created
 * readable by everyone, are tightened.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Absent (no WAL yet) or not ours to change: SQLite reports what matters when it opens the file.
    }
  }
}

function abortedBy(reason: unknown): StoreUnavailableError {
  const code = reason instanceof StoreUnavailableError ? reason.code : 'transaction_aborted';
  return new StoreUnavailableError(
    `the transaction was rolled back by an earlier failure (${code}); nothing in it was kept`,
    code,
    { cause: reason },
  );
}

function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
