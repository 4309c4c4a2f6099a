/**
 * A `kill -9` of `edgeagg backup` or `edgeagg restore` half-way leaves no half-written output (issue 17): the
 * archive is absent, the data directory absent or as it was; the next run finishes and removes what the
 * killed one left. A 32 MiB file in the data directory (where a module registry keeps its modules) makes each
 * run long enough to be killed while its work folder exists. And a node killed while a backup of it runs
 * loses nothing, and the backup still completes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateNodeKey } from '../../src/auth/index.js';
import { readBackupManifest } from '../../src/node/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT } from '../helpers/guests.js';
import { sleep } from '../helpers/poll.js';
import { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const edgeagg = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

/**
 * Starts `edgeagg ...args`; once its work folder (`.<target>.<purpose>-<pid>`) exists, runs `midway` (by
 * default: SIGKILL the run itself). Resolves with how the run ended.
 */
async function killMidway(target: string, purpose: string, args: string[], midway?: () => Promise<void>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const work = join(dirname(target), `.${basename(target)}.${purpose}-${child.pid}`);
  let seen = false;
  for (let i = 0; i < 20_000 && !seen && child.exitCode === null; i++) {
    seen = existsSync(work);
    if (!seen) await sleep(1);
  }
  if (midway) await midway();
  else child.kill('SIGKILL');
  expect(seen, `the work folder ${work} never appeared before the run ended`).toBe(true);
  const end = await exited;
  if (!midway) expect(end.signal).toBe('SIGKILL');
  return { ...end, stderr };
}

/** Every member of the archive is in `dataDir` with its checksum. */
function expectComplete(archive: string, dataDir: string): void {
  for (const member of readBackupManifest(archive).manifest.members) {
    const bytes = readFileSync(join(dataDir, ...member.path.split('/')));
    expect(createHash('sha256').update(bytes).digest('hex'), member.path).toBe(member.sha256);
  }
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'));

describe('kill -9 of backup and restore', () => {
  let dataDir = '';
  let archive = '';

  beforeAll(() => {
    dataDir = join(tempDir('backup-kill-src'), 'data');
    const store = SqliteStore.open({ path: join(dataDir, 'edgeagg.db') });
    store.close();
    loadOrCreateNodeKey(dataDir);
    mkdirSync(join(dataDir, 'modules'));
    writeFileSync(join(dataDir, 'modules', 'large.wasm'), randomBytes(32 * 1024 * 1024));
    archive = join(tempDir('backup-kill-archive'), 'complete.edgeagg');
    const made = edgeagg('backup', '--data-dir', dataDir, '--out', archive);
    expect(made.status, made.stderr).toBe(0);
    expect(readBackupManifest(archive).manifest.members.map((m) => m.path)).toContain('modules/large.wasm');
  });

  it('backup: no archive at --out, and the next backup removes what the killed one left', async () => {
    const dir = tempDir('backup-kill-out');
    const out = join(dir, 'node.edgeagg');
    await killMidway(out, 'partial', ['backup', '--data-dir', dataDir, '--out', out]);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(dir)).toHaveLength(1);

    const again = edgeagg('backup', '--data-dir', dataDir, '--out', out);
    expect(again.status, again.stderr).toBe(0);
    expect(leftovers(dir)).toEqual([]);
    const restored = join(dir, 'restored');
    expect(edgeagg('restore', '--in', out, '--data-dir', restored).status).toBe(0);
    expectComplete(out, restored);
  }, 60_000);

  it('restore into a new directory: nothing there, then a complete directory', async () => {
    const dir = tempDir('restore-kill-new');
    const target = join(dir, 'data');
    await killMidway(target, 'restore', ['restore', '--in', archive, '--data-dir', target]);
    expect(existsSync(target)).toBe(false);

    const again = edgeagg('restore', '--in', archive, '--data-dir', target);
    expect(again.status, again.stderr).toBe(0);
    expect(leftovers(dir)).toEqual([]);
    expectComplete(archive, target);
  }, 60_000);

  it('restore --force over a directory: the old directory as it was, then the backup', async () => {
    const dir = tempDir('restore-kill-force');
    const target = join(dir, 'data');
    mkdirSync(target);
    writeFileSync(join(target, 'old.txt'), 'the directory before the restore');
    await killMidway(target, 'restore', ['restore', '--in', archive, '--data-dir', target, '--force']);
    expect(readdirSync(target).filter((n) => n !== 'node.lock')).toEqual(['old.txt']);
    expect(readFileSync(join(target, 'old.txt'), 'utf8')).toBe('the directory before the restore');

    const again = edgeagg('restore', '--in', archive, '--data-dir', target, '--force');
    expect(again.status, again.stderr).toBe(0);
    expect(leftovers(dir)).toEqual([]);
    expect(existsSync(join(target, 'old.txt'))).toBe(false);
    expectComplete(archive, target);
  }, 60_000);

  it('the node killed with SIGKILL while a backup runs: the backup completes, and both directories hold every acknowledged reading', async () => {
    const nodeDir = join(tempDir('backup-kill-node'), 'data');
    mkdirSync(join(nodeDir, 'extra'), { recursive: true });
    writeFileSync(join(nodeDir, 'extra', 'large.bin'), randomBytes(32 * 1024 * 1024));
    let node = await NodeProcess.start({ dataDir: nodeDir });
    const read = await node.token('read');
    try {
      const now = Date.now();
      const readings = Array.from({ length: 50 }, (_, i) => ({ device_id: `d${i % 5}`, region: 'killed', temperature_c: i / 4, timestamp: now - 60_000 + i }));
      expect((await node.postReadings(readings, await node.token('gateway'))).status).toBe(200);
      const out = join(tempDir('backup-kill-node-out'), 'node.edgeagg');
      const killed = node;
      const backup = await killMidway(out, 'partial', ['backup', '--data-dir', nodeDir, '--out', out], () => killed.kill());
      expect(backup.code, backup.stderr).toBe(0);

      const restoredDir = join(tempDir('backup-kill-node-restored'), 'data');
      expect(edgeagg('restore', '--in', out, '--data-dir', restoredDir).status).toBe(0);
      for (const dir of [restoredDir, nodeDir]) {
        node = await NodeProcess.start({ dataDir: dir });
        const res = await node.fetch('/v1/regions/killed', { token: read });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { count: number }).count, dir).toBe(50);
        await node.stop();
      }
    } finally {
      await node.stop();
    }
  }, 90_000);
});
