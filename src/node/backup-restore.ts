/**
 * `edgeagg restore`: a data directory made from a backup archive (backup-format.ts). Everything is written
 * and checked in a hidden sibling folder first and renamed into place whole, so a restore killed half-way
 * leaves the target as it was (absent, or the old directory) and never a half-restored one.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SCHEMA_VERSION, quickCheck } from '../store/index.js';
import { extractArchive, fsyncPath, readManifest, type BackupManifest } from './backup-format.js';
import { BackupError } from './backup-create.js';
import { removeLeftovers, workPath } from './backup-leftovers.js';
import { lockDataDir } from './data-dir-lock.js';
import { NodeStartError } from './start-errors.js';

export interface RestoreBackupOptions {
  /** The archive `edgeagg backup` wrote. */
  archive: string;
  /** The data directory to make: absent or empty, unless `force`. */
  dataDir: string;
  /** Replace a data directory that holds files (never one a node runs on). @default false */
  force?: boolean;
}

export interface RestoredBackup {
  dataDir: string;
  manifest: BackupManifest;
  /** True when an existing directory with files was replaced (`force`). */
  replaced: boolean;
  /** Members under `trusted-keys/`: the node reads them at start, no `--trusted-keys` needed. */
  trustedKeys: string[];
}

export function restoreBackup(options: RestoreBackupOptions): RestoredBackup {
  const dataDir = resolve(options.dataDir);
  // A damaged archive or one from a newer version is refused before the target is looked at.
  const { manifest } = readManifest(resolve(options.archive));
  if (manifest.schema_version > SCHEMA_VERSION) {
    throw new BackupError(
      `the backup has schema version ${manifest.schema_version} (edge-aggregator ${manifest.package_version}); this version reads up to ${SCHEMA_VERSION}: restore it with a newer edgeagg`,
    );
  }
  const exists = existsSync(dataDir);
  if (exists && !statSync(dataDir).isDirectory()) throw new BackupError(`${dataDir} is a file, not a data directory`);
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o700 });
  // The directory is replaced by a rename, which a mount point refuses (and its work folder would be on another filesystem).
  if (exists && statSync(dataDir).dev !== statSync(dirname(dataDir)).dev) {
    throw new BackupError(`${dataDir} is a mount point: restore into a folder inside it (e.g. ${join(dataDir, 'data')}) and start the node with that --data-dir`);
  }
  // Held while the directory is replaced, so no node starts on it meanwhile; it goes away with the old directory.
  let unlock: (() => void) | undefined;
  if (exists) {
    try {
      unlock = lockDataDir(dataDir);
    } catch (error) {
      if (!(error instanceof NodeStartError)) throw error;
      throw new BackupError(`cannot restore into ${dataDir} while a node runs on it (stop it first): ${error.message}`, { cause: error });
    }
  }
  const held = exists ? readdirSync(dataDir).filter((name) => name !== 'node.lock') : [];
  const work = workPath(dataDir, 'restore');
  const old = workPath(dataDir, 'replaced');
  try {
    if (held.length > 0 && !options.force) {
      throw new BackupError(`${dataDir} is not empty (${held.length} ${held.length === 1 ? 'entry' : 'entries'}): restore into a new or empty directory, or pass --force to replace it`);
    }
    removeLeftovers(dataDir, 'restore');
    removeLeftovers(dataDir, 'replaced');
    mkdirSync(work, { mode: 0o700 });
    extractArchive(resolve(options.archive), work);
    const check = quickCheck(join(work, 'edgeagg.db'));
    if (check !== 'ok') throw new BackupError(`the database in ${options.archive} fails SQLite's check: ${check}`);
    if (exists) renameSync(dataDir, old);
    renameSync(work, dataDir);
    fsyncPath(dirname(dataDir));
  } catch (error) {
    if (exists && !existsSync(dataDir) && existsSync(old)) renameSync(old, dataDir);
    rmSync(work, { recursive: true, force: true });
    unlock?.();
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
  return {
    dataDir,
    manifest,
    replaced: held.length > 0,
    trustedKeys: manifest.members.filter((m) => m.path.startsWith('trusted-keys/')).map((m) => join(dataDir, ...m.path.split('/'))),
  };
}
