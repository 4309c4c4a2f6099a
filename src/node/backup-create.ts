/**
 * `edgeagg backup`: a node's data directory in one archive (backup-format.ts), taken while the node runs.
 * The database is copied with SQLite's online backup API from a read-only connection; every other file of
 * the directory (the node key, `trusted-keys/`, whatever a module registry keeps there) is copied as it is.
 * The node's lock is not taken: the node never notices a backup.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { backupDatabase, journalPaths } from '../store/index.js';
import { digestFile, fsyncPath, writeArchive, type BackupManifest, type BackupMember } from './backup-format.js';
import { removeLeftovers, workPath } from './backup-leftovers.js';
import { packageVersion } from './module-bundle.js';

const DATABASE = 'edgeagg.db';
/** Not copied: the database's live files (the copy replaces them), the node's lock, and the marker that the first start's tokens were not shown yet. */
const SKIPPED = new Set([DATABASE, `${DATABASE}-wal`, `${DATABASE}-shm`, `${DATABASE}-journal`, 'node.lock', 'keys/first-start']);

export interface CreateBackupOptions {
  /** The node's data directory. */
  dataDir: string;
  /** The archive to write. */
  out: string;
  /** PEM public keys given to the node with `--trusted-keys`, stored as `trusted-keys/<name>.pem`. @default [] */
  trustedKeys?: readonly string[];
  /** Replace `out` if it exists. @default false */
  force?: boolean;
}

/** A backup written: where, its size and what it holds. */
export interface CreatedBackup {
  out: string;
  bytes: number;
  manifest: BackupManifest;
}

/** Refused before anything was written (a wrong path, an existing output, a key that is not one). */
export class BackupError extends Error {
  override name = 'BackupError';
}

export async function createBackup(options: CreateBackupOptions): Promise<CreatedBackup> {
  const dataDir = resolve(options.dataDir);
  const out = resolve(options.out);
  if (!existsSync(join(dataDir, DATABASE))) throw new BackupError(`no node database in ${dataDir}: point --data-dir at the data directory of a node`);
  if (`${out}${sep}`.startsWith(`${dataDir}${sep}`)) throw new BackupError(`--out ${out} is inside the data directory: write the backup somewhere else`);
  if (!existsSync(dirname(out))) throw new BackupError(`the folder of --out ${out} does not exist`);
  if (existsSync(out) && !options.force) throw new BackupError(`${out} exists: choose another --out, or pass --force to replace it`);
  const trusted = (options.trustedKeys ?? []).map((file) => ({ file: resolve(file), pem: readPublicKey(file) }));

  removeLeftovers(out, 'partial');
  const work = workPath(out, 'partial');
  mkdirSync(work, { mode: 0o700 });
  try {
    // The database first, then the files: a content-addressed registry writes a module's file before the row
    // that names it, so every file a row of the copy names is already there when the files are copied.
    const createdAt = new Date().toISOString();
    const stagedPath = (path: string): string => {
      const source = join(work, 'files', ...path.split('/'));
      mkdirSync(dirname(source), { recursive: true, mode: 0o700 });
      return source;
    };
    // The write journal before the database: a reading acknowledged before the backup began is either in the
    // copy of the database or, not committed to it yet, in this copy of the journal (the node reuses a journal
    // file only after the database committed what it held). The restored node applies it at start.
    const journal = journalPaths(join(dataDir, DATABASE)).map((file) => relative(dataDir, file).split(sep).join('/'));
    const staged: Array<{ path: string; source: string }> = [];
    for (const path of journal) {
      const source = stagedPath(path);
      if (copyUnlessGone(join(dataDir, path), source)) staged.push({ path, source });
    }
    const database = await backupDatabase(join(dataDir, DATABASE), join(work, DATABASE));
    staged.unshift({ path: DATABASE, source: join(work, DATABASE) });
    for (const path of dataDirFiles(dataDir)) {
      if (journal.includes(path)) continue;
      const source = stagedPath(path);
      if (copyUnlessGone(join(dataDir, ...path.split('/')), source)) staged.push({ path, source });
    }
    const taken = new Set(staged.map((s) => s.path));
    for (const key of trusted) {
      const path = uniqueName(taken, key.file);
      writeFileSync(stagedPath(path), key.pem, { mode: 0o644 });
      staged.push({ path, source: stagedPath(path) });
    }

    // A copy keeps its original's permission bits (the node key stays 0600); SQLite creates the database's with the umask.
    const members: BackupMember[] = staged.map(({ path, source }) => ({
      path,
      mode: path === DATABASE ? 0o600 : statSync(source).mode & 0o777,
      ...digestFile(source),
    }));
    const manifest: BackupManifest = {
      format: 1,
      node_id: nodeIdOf(dataDir),
      package_version: packageVersion(),
      schema_version: database.schemaVersion,
      created_at: createdAt,
      members,
    };
    const archive = join(work, 'archive');
    writeArchive(archive, manifest, staged.map((s) => s.source));
    renameSync(archive, out);
    fsyncPath(dirname(out));
    return { out, bytes: statSync(out).size, manifest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Copies `from` to `to`; false when `from` was deleted or renamed since it was listed (a temporary file). */
function copyUnlessGone(from: string, to: string): boolean {
  try {
    copyFileSync(from, to);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return false;
    throw error;
  }
}

/** Every regular file under `dataDir` but {@link SKIPPED}, as `/`-separated relative paths, sorted. */
function dataDirFiles(dataDir: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const path = relative(dataDir, full).split(sep).join('/');
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && !SKIPPED.has(path)) files.push(path);
    }
  };
  walk(dataDir);
  return files.sort();
}

/** `trusted-keys/<name>.pem`, made unique among the members (two `--trusted-keys` files may share a name). */
function uniqueName(taken: Set<string>, file: string): string {
  const stem = basename(file).replace(/\.pem$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'key';
  let path = `trusted-keys/${stem}.pem`;
  for (let i = 2; taken.has(path); i++) path = `trusted-keys/${stem}-${i}.pem`;
  taken.add(path);
  return path;
}

function readPublicKey(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    createPublicKey(pem);
  } catch (error) {
    throw new BackupError(`--trusted-keys ${file} is not a readable PEM public key: ${(error as Error).message}`, { cause: error });
  }
  return pem;
}

/** The id a node derives from its key when `--node-id` is not set (edge-node.ts), or null without a key. */
function nodeIdOf(dataDir: string): string | null {
  const keyPath = join(dataDir, 'keys', 'node-token.key.pem');
  if (!existsSync(keyPath)) return null;
  const publicKeyPem = createPublicKey(createPrivateKey(readFileSync(keyPath, 'utf8'))).export({ format: 'pem', type: 'spki' }).toString();
  return `node-${createHash('sha256').update(publicKeyPem).digest('hex').slice(0, 12)}`;
}
