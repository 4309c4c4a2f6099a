/**
 * One node per data directory. Two nodes on one database would both accept readings and both fold them, and
 * each would take the other's WAL checkpoints and fold journal for its own: a second node must refuse at once.
 * The lock is a file holding the owner's pid, created exclusively; a lock whose process is gone (a kill -9, a
 * power cut) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { NodeStartError } from './start-errors.js';

const LOCK_FILE = 'node.lock';

/** Takes the data directory's lock for this process; returns the function that releases it. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        // Only our own lock: a node that took over a lock it thought stale must keep it.
        if (ownerOf(path) === process.pid) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const owner = ownerOf(path);
      if (owner !== undefined && owner !== process.pid && alive(owner)) {
        throw new NodeStartError(
          `another node (pid ${owner}) is running on the data directory ${dataDir}: stop it, or give this one its own --data-dir`,
        );
      }
      // Left by a node that is gone: take it over.
      rmSync(path, { force: true });
    }
  }
  throw new NodeStartError(`cannot take the lock ${path}: another node is starting on the same data directory`);
}

function ownerOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this id exists (any user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as { code?: string }).code === 'EPERM';
  }
}
