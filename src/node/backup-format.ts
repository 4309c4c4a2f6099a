/**
 * The backup archive: one file, written by `edgeagg backup` and read by `edgeagg restore`
 * (docs/operations.md, "Backup, restore and export"). Its layout:
 *
 *   edgeagg-backup 1\n                 the magic line, with the format's version
 *   {"format":1,...,"members":[...]}\n the manifest: one line of JSON
 *   <member bytes>...                  each member's bytes, one after another, in the manifest's order
 *
 * Nothing follows the last member: an archive's size is exactly the two lines plus the members' sizes, so a
 * truncated or extended file is refused before anything is written, and each member's SHA-256 is checked as
 * it is extracted. A format this simple needs no library, and `head -2 FILE` shows what a backup holds.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

const MAGIC = 'edgeagg-backup 1\n';
/** Larger manifests are refused as corrupt: a data directory has tens of files, not millions. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** One file of the data directory, as `path` relative to it (`/`-separated). */
export interface BackupMember {
  path: string;
  size: number;
  /** Permission bits (e.g. 0o600 for the node key). */
  mode: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

/** What a backup holds; the archive's second line. */
export interface BackupManifest {
  format: 1;
  /** The node's id derived from its key (a node started with `--node-id` is named by that instead). */
  node_id: string | null;
  /** The edge-aggregator version that made the backup. */
  package_version: string;
  /** The database's schema version (`PRAGMA user_version`). */
  schema_version: number;
  /** ISO 8601, when the database was copied. */
  created_at: string;
  members: BackupMember[];
}

/** The archive is not a backup, or is damaged: nothing was restored from it. */
export class BackupArchiveError extends Error {
  override name = 'BackupArchiveError';
}

/** Size and SHA-256 of the file at `path`. */
export function digestFile(path: string): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buffer, 0, CHUNK, null)) > 0; size += n) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}

/** Writes the archive of `manifest` to `path` (a new file), member `i` read from `sources[i]`, and fsyncs it. */
export function writeArchive(path: string, manifest: BackupManifest, sources: readonly string[]): void {
  const out = openSync(path, 'wx', 0o600);
  const buffer = Buffer.allocUnsafe(CHUNK);
  try {
    writeAll(out, Buffer.from(`${MAGIC}${JSON.stringify(manifest)}\n`));
    manifest.members.forEach((member, i) => {
      const fd = openSync(sources[i]!, 'r');
      try {
        let copied = 0;
        for (let n; (n = readSync(fd, buffer, 0, CHUNK, null)) > 0; copied += n) writeAll(out, buffer.subarray(0, n));
        if (copied !== member.size) throw new Error(`${sources[i]} changed while it was archived`);
      } finally {
        closeSync(fd);
      }
    });
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
}

/** The manifest of the archive at `path`, checked against the archive's size; refuses anything else. */
export function readManifest(path: string): { manifest: BackupManifest; dataOffset: number } {
  const fd = openArchive(path);
  try {
    return readHead(fd, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Extracts every member of the archive at `path` under `destDir` (which exists), checking each one's
 * SHA-256, creating folders private to the user and fsyncing what it writes. Throws
 * {@link BackupArchiveError} at the first member that does not match; the caller removes `destDir`.
 */
export function extractArchive(path: string, destDir: string): BackupManifest {
  const fd = openArchive(path);
  const buffer = Buffer.allocUnsafe(CHUNK);
  try {
    const { manifest, dataOffset } = readHead(fd, path);
    const dirs = new Set<string>([destDir]);
    let position = dataOffset;
    for (const member of manifest.members) {
      const target = join(destDir, ...member.path.split('/'));
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      for (let d = dirname(target); d.length > destDir.length; d = dirname(d)) dirs.add(d);
      const out = openSync(target, 'wx', member.mode & 0o777);
      const hash = createHash('sha256');
      try {
        for (let left = member.size; left > 0; ) {
          const n = readSync(fd, buffer, 0, Math.min(CHUNK, left), position);
          if (n === 0) throw new BackupArchiveError(`${path} ends inside ${member.path}: the archive is truncated`);
          hash.update(buffer.subarray(0, n));
          writeAll(out, buffer.subarray(0, n));
          position += n;
          left -= n;
        }
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      if (hash.digest('hex') !== member.sha256) {
        throw new BackupArchiveError(`${path}: ${member.path} does not match its checksum in the manifest: the archive is damaged`);
      }
    }
    for (const dir of dirs) fsyncPath(dir);
    return manifest;
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename or a new file in `path` (a folder) durable, or `path`'s own content (a file). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function openArchive(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    throw new BackupArchiveError(`cannot read the backup ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function readHead(fd: number, path: string): { manifest: BackupManifest; dataOffset: number } {
  const magic = Buffer.alloc(MAGIC.length);
  const got = readSync(fd, magic, 0, magic.length, 0);
  if (got < magic.length || magic.toString('latin1') !== MAGIC) {
    throw new BackupArchiveError(`${path} is not an edgeagg backup (it does not start with "${MAGIC.trim()}")`);
  }
  const chunks: Buffer[] = [];
  let position = MAGIC.length;
  let line: Buffer | undefined;
  while (line === undefined) {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const n = readSync(fd, buffer, 0, buffer.length, position);
    if (n === 0) throw new BackupArchiveError(`${path} ends inside its manifest: the archive is truncated`);
    const end = buffer.subarray(0, n).indexOf(0x0a);
    chunks.push(buffer.subarray(0, end === -1 ? n : end));
    position += end === -1 ? n : end + 1;
    if (end !== -1) line = Buffer.concat(chunks);
    else if (position > MAX_MANIFEST_BYTES) throw new BackupArchiveError(`${path}: the manifest is not one line of at most ${MAX_MANIFEST_BYTES} bytes: the archive is damaged`);
  }
  let manifest: BackupManifest;
  try {
    manifest = checkManifest(JSON.parse(line.toString('utf8')));
  } catch (error) {
    throw new BackupArchiveError(`${path}: its manifest is damaged (${(error as Error).message})`, { cause: error });
  }
  const expected = position + manifest.members.reduce((sum, m) => sum + m.size, 0);
  const size = fstatSync(fd).size;
  if (size !== expected) {
    throw new BackupArchiveError(`${path} is ${size} bytes, its manifest says ${expected}: the archive is ${size < expected ? 'truncated' : 'damaged'}`);
  }
  return { manifest, dataOffset: position };
}

/** The manifest as written by {@link writeArchive}, with member paths that stay inside the data directory. */
function checkManifest(value: unknown): BackupManifest {
  const m = value as BackupManifest;
  const fail = (what: string): never => {
    throw new Error(what);
  };
  if (typeof m !== 'object' || m === null || m.format !== 1) fail('format is not 1');
  if (typeof m.schema_version !== 'number' || typeof m.created_at !== 'string' || !Array.isArray(m.members)) fail('missing fields');
  const seen = new Set<string>();
  for (const member of m.members) {
    const { path, size, mode, sha256 } = member ?? {};
    const parts = typeof path === 'string' ? path.split('/') : [];
    if (parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'))) fail(`member path ${JSON.stringify(path)}`);
    if (seen.has(path)) fail(`member ${path} twice`);
    seen.add(path);
    if (!Number.isSafeInteger(size) || size < 0 || !Number.isInteger(mode) || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) fail(`member ${path}`);
  }
  return m;
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}
