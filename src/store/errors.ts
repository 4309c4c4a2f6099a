import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../runtime/index.js';

/** Raised at open when the database file was written by a newer version of the store. */
export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
  constructor(
    /** The file's `PRAGMA user_version`. */
    readonly found: number,
    /** The newest schema version this code knows. */
    readonly supported: number,
  ) {
    super(
      `the database has schema version ${found}, but this node only knows versions up to ${supported}: ` +
        'it was written by a newer edge-aggregator; run that version, or restore a backup made by this one',
    );
  }
}

/** SQLite primary result codes that mean "the store cannot do it now", and the code clients see. */
const UNAVAILABLE_CODES: Readonly<Record<string, string>> = {
  SQLITE_FULL: 'disk_full',
  SQLITE_BUSY: 'store_busy',
  SQLITE_LOCKED: 'store_busy',
  // A WAL lock race that SQLite gave up retrying: transient like BUSY.
  SQLITE_PROTOCOL: 'store_busy',
  SQLITE_IOERR: 'io_error',
  SQLITE_CANTOPEN: 'io_error',
  SQLITE_READONLY: 'read_only',
  SQLITE_CORRUPT: 'corrupt',
  SQLITE_NOTADB: 'corrupt',
  SQLITE_NOMEM: 'out_of_memory',
};

/** `SQLITE_IOERR_SHORT_READ` -> `SQLITE_IOERR`. */
function primaryCode(code: string): string {
  const second = code.indexOf('_', 'SQLITE_'.length);
  return second === -1 ? code : code.slice(0, second);
}

/**
 * The one place SQLite errors are translated: failures of the storage (disk full, busy, I/O, read-only,
 * corruption) become a {@link StoreUnavailableError} with a stable code and the SQLite error as `cause`.
 * Anything else (a constraint, a misuse) is a bug and is returned unchanged.
 */
export function toStoreError(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  const code = UNAVAILABLE_CODES[primaryCode(error.code)];
  if (code === undefined) return error;
  return new StoreUnavailableError(`store unavailable (${error.code}): ${error.message}`, code, { cause: error });
}
