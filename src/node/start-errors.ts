/**
 * Why a node could not start, said the way an operator can act on it: Node's own errors (`EADDRINUSE`,
 * `SQLITE_CANTOPEN` without a path) name neither the setting to change nor the file.
 */
export class NodeStartError extends Error {
  override name = 'NodeStartError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The first system or SQLite error code along the error's causes. */
function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|SQLITE_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}

const FILE_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the filesystem is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file is in the way',
  EISDIR: 'a directory is in the way',
};

/** The data directory (or the node key in it) could not be created or read. */
export function dataDirError(error: unknown, dataDir: string): Error {
  const reason = FILE_REASONS[codeOf(error) ?? ''];
  if (!reason) return error instanceof Error ? error : new Error(String(error));
  return new NodeStartError(`cannot use the data directory ${dataDir}: ${reason}. Pass --data-dir a directory this user can write (it holds the database and the node's key)`, { cause: error });
}

/** The database could not be opened. */
export function databaseError(error: unknown, path: string): Error {
  const code = codeOf(error) ?? '';
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code in FILE_REASONS) {
    const reason = FILE_REASONS[code] ?? (code === 'SQLITE_READONLY' ? 'it is read-only' : 'it cannot be opened or created');
    return new NodeStartError(`cannot open the database ${path}: ${reason}. Check that this user can write ${path} and its directory, or pass another --data-dir`, { cause: error });
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new NodeStartError(`${path} is not a usable edge-aggregator database (${code}): restore it from a backup, or pass another --data-dir`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The server could not listen on `host:port`. */
export function listenError(error: unknown, host: string, port: number): Error {
  switch (codeOf(error)) {
    case 'EADDRINUSE':
      return new NodeStartError(`port ${port} on ${host} is in use (another node or program listens there): stop it, or pass --port (0 picks a free one)`, { cause: error });
    case 'EACCES':
      return new NodeStartError(`no permission to listen on port ${port} on ${host} (ports below 1024 need privileges): pass --port 1024 or above`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new NodeStartError(`${host} is not an address of this machine: pass --host (127.0.0.1 for this machine only, 0.0.0.0 for every interface)`, { cause: error });
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}
