/**
 * `edgeagg backup` and `edgeagg restore` (issue 17), with real processes and real SQLite: a backup taken while
 * a node ingests over HTTP, restored on a fresh data directory, gives a node that accepts the tokens minted
 * before the backup and answers the same aggregates for everything acknowledged before it started; restore
 * refuses a non-empty directory, a directory a node runs on, a damaged archive and a wrong checksum.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBackupManifest } from '../../src/node/index.js';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const edgeagg = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

interface Region {
  region: string;
  count: number;
}

async function regions(node: NodeProcess, token: string): Promise<Map<string, Region>> {
  const res = await node.fetch('/v1/regions', { token });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { regions: Region[] };
  return new Map(body.regions.map((r) => [r.region, r]));
}

/** Readings of `region` numbered from `first`: distinct devices and times, all within the grace period. */
function batch(region: string, first: number, size: number, base: number): unknown[] {
  return Array.from({ length: size }, (_, k) => {
    const i = first + k;
    return { device_id: `dev-${i % 7}`, region, temperature_c: Math.round(((i * 37) % 600) - 200) / 10, timestamp: base + i };
  });
}

describe('edgeagg backup and restore', () => {
  it('a backup taken under load, restored on a fresh directory, accepts the same tokens and answers the same aggregates', async () => {
    const original = await NodeProcess.start();
    let restored: NodeProcess | undefined;
    try {
      // Minted before the backup, from the original node's key.
      const gateway = await original.token('gateway');
      const read = await original.token('read');
      const base = Date.now() - 3_600_000;
      // Acknowledged before the backup starts, in regions the load during the backup does not touch.
      for (let i = 0; i < 40; i++) {
        const res = await original.postReadings(batch(i % 2 === 0 ? 'before-a' : 'before-b', i * 10, 10, base), gateway);
        expect(res.status).toBe(200);
      }

      // The load: batches to region `during` until told to stop (bounded).
      let acked = 0;
      let stop = false;
      const load = (async () => {
        for (let i = 0; i < 5_000 && !stop; i++) {
          const res = await original.postReadings(batch('during', 100_000 + i * 5, 5, base), gateway);
          expect(res.status).toBe(200);
          acked += 5;
        }
      })();
      await until(() => acked >= 50, { timeoutMs: 20_000, message: () => `the load to get going (${acked} acknowledged)` });

      const out = join(tempDir('backup-out'), 'node.edgeagg');
      const ackedAtStart = acked;
      const backup = spawn(process.execPath, [CLI, 'backup', '--data-dir', original.dataDir, '--out', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      backup.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      backup.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((r) => backup.once('exit', (c) => r(c)));
      const ackedAtEnd = acked;
      stop = true;
      await load;
      expect(code, stderr).toBe(0);
      // The node was ingesting the whole time the backup ran.
      expect(ackedAtEnd).toBeGreaterThan(ackedAtStart);
      const summary = JSON.parse(stdout) as { out: string; node_id: string; schema_version: number; members: Array<{ path: string }> };
      expect(summary.out).toBe(out);
      expect(summary.members.map((m) => m.path)).toEqual(expect.arrayContaining(['edgeagg.db', 'keys/node-token.key.pem', 'keys/node-token.pub.pem']));
      expect(summary.members.map((m) => m.path)).not.toContain('node.lock');

      const dataDir = join(tempDir('backup-restored'), 'data');
      const restore = edgeagg('restore', '--in', out, '--data-dir', dataDir);
      expect(restore.status, restore.stderr).toBe(0);
      expect(restore.stdout).toContain(`restored ${summary.node_id}`);
      restored = await NodeProcess.start({ dataDir });

      const before = await regions(original, read);
      const after = await regions(restored, read);
      for (const name of ['before-a', 'before-b']) {
        expect(after.get(name)).toEqual(before.get(name));
        expect(after.get(name)?.count).toBe(200);
      }
      // Whatever was acknowledged before the backup started is in it; nothing the original does not have.
      const during = after.get('during')?.count ?? 0;
      expect(during).toBeGreaterThanOrEqual(ackedAtStart);
      expect(during).toBeLessThanOrEqual(before.get('during')!.count);
      // The gateway token minted before the backup writes to the restored node too.
      const res = await restored.postReadings(batch('after', 900_000, 1, base), gateway);
      expect(res.status).toBe(200);
      // The original node never noticed: it still serves, and holds its own lock.
      expect((await original.fetch('/readyz')).status).toBe(200);
      expect(readFileSync(join(original.dataDir, 'node.lock'), 'utf8').trim()).toBe(String(original.child.pid));
    } finally {
      await restored?.stop();
      await original.stop();
      original.cleanup();
    }
  }, 120_000);

  it('keeps --trusted-keys: a node on the restored directory loads a module signed with that key without --trusted-keys', async () => {
    const dir = tempDir('backup-keys');
    expect(edgeagg('keygen', '--out', join(dir, 'ops')).status).toBe(0);
    const wasm = join(dir, 'my-aggregator.wasm');
    copyFileSync(join(ROOT, 'build/guests/aggregator.wasm'), wasm);
    const built = JSON.parse(readFileSync(join(ROOT, 'build/guests/aggregator.wasm.sig.json'), 'utf8')) as { manifest: { capabilities: string[] } };
    const signed = edgeagg('sign', wasm, '--key', join(dir, 'ops.key.pem'), '--name', 'aggregator', '--version', '2.0.0', '--capability', ...built.manifest.capabilities);
    expect(signed.status, signed.stderr).toBe(0);
    const node = await NodeProcess.start({ dataDir: join(dir, 'data'), flags: { module: wasm, 'trusted-keys': join(dir, 'ops.pub.pem') } });
    await node.stop();

    const notAKey = edgeagg('backup', '--data-dir', node.dataDir, '--out', join(dir, 'refused.edgeagg'), '--trusted-keys', wasm);
    expect(notAKey.status).toBe(1);
    expect(notAKey.stderr).toContain(`--trusted-keys ${wasm} is not a readable PEM public key`);
    expect(existsSync(join(dir, 'refused.edgeagg'))).toBe(false);

    const out = join(dir, 'keys.edgeagg');
    const made = edgeagg('backup', '--data-dir', node.dataDir, '--out', out, '--trusted-keys', join(dir, 'ops.pub.pem'));
    expect(made.status, made.stderr).toBe(0);
    const restoredDir = join(dir, 'restored');
    const restored = edgeagg('restore', '--in', out, '--data-dir', restoredDir);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`module keys: ${join(restoredDir, 'trusted-keys', 'ops.pub.pem')}`);
    // The signature is checked against the keys the node trusts: only the restored key can make it load.
    const again = await NodeProcess.start({ dataDir: restoredDir, flags: { module: wasm } });
    try {
      expect(again.stdout).toContain('module:    aggregator@2.0.0');
    } finally {
      await again.stop();
    }
  }, 60_000);

  describe('restore refuses', () => {
    let archive = '';
    // Made once for the file: directories made outside a test are removed after the file.
    beforeAll(async () => {
      const node = await NodeProcess.start({ dataDir: join(tempDir('backup-src'), 'data') });
      const nodeDir = node.dataDir;
      try {
        expect((await node.postReadings(batch('r', 0, 3, Date.now() - 60_000), await node.token('gateway'))).status).toBe(200);
      } finally {
        await node.stop();
      }
      archive = join(tempDir('backup-archive'), 'b.edgeagg');
      const made = edgeagg('backup', '--data-dir', nodeDir, '--out', archive);
      expect(made.status, made.stderr).toBe(0);
    });

    it('a directory that holds files, unless --force', async () => {
      const dataDir = tempDir('restore-full');
      writeFileSync(join(dataDir, 'mine.txt'), 'keep me');
      const refused = edgeagg('restore', '--in', archive, '--data-dir', dataDir);
      expect(refused.status).toBe(1);
      expect(refused.stderr.trim()).toBe(`edgeagg: ${dataDir} is not empty (1 entry): restore into a new or empty directory, or pass --force to replace it`);
      expect(readdirSync(dataDir)).toEqual(['mine.txt']);

      const forced = edgeagg('restore', '--in', archive, '--data-dir', dataDir, '--force', '--json');
      expect(forced.status, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ data_dir: dataDir, replaced: true, trusted_keys: [], format: 1, node_id: expect.stringMatching(/^node-[0-9a-f]{12}$/) });
      expect(readdirSync(dataDir)).toEqual(expect.arrayContaining(['edgeagg.db', 'keys']));
      expect(readdirSync(dataDir)).not.toContain('mine.txt');
      // An empty directory needs no --force.
      const empty = tempDir('restore-empty');
      expect(edgeagg('restore', '--in', archive, '--data-dir', empty).status).toBe(0);
      expect(existsSync(join(empty, 'keys', 'node-token.key.pem'))).toBe(true);
    });

    it('a directory a node is running on, even with --force', async () => {
      const node = await NodeProcess.start();
      try {
        const refused = edgeagg('restore', '--in', archive, '--data-dir', node.dataDir, '--force');
        expect(refused.status).toBe(1);
        expect(refused.stderr).toMatch(/^edgeagg: cannot restore into .* while a node runs on it \(stop it first\): another node \(pid \d+\) is running/);
        expect((await node.fetch('/readyz')).status).toBe(200);
        expect(readFileSync(join(node.dataDir, 'node.lock'), 'utf8').trim()).toBe(String(node.child.pid));
      } finally {
        await node.stop();
        node.cleanup();
      }
    });

    it('an archive that is not one, or is truncated, and one whose member does not match its checksum', async () => {
      const dir = tempDir('restore-bad');
      const bytes = readFileSync(archive);
      const cases: Array<[string, Buffer, RegExp]> = [
        ['garbage', Buffer.from('not a backup\n'), /is not an edgeagg backup/],
        ['truncated', bytes.subarray(0, bytes.length - 100), /is \d+ bytes, its manifest says \d+: the archive is truncated/],
        ['extended', Buffer.concat([bytes, Buffer.from('x')]), /the archive is damaged/],
        ['bad-manifest', Buffer.from(bytes.toString('latin1').replace('"format":1', '"format":7'), 'latin1'), /its manifest is damaged/],
        // One byte of the last member (a key file) flipped: sizes agree, the checksum does not.
        ['flipped', flipLast(bytes), /does not match its checksum in the manifest: the archive is damaged/],
      ];
      for (const [name, content, message] of cases) {
        const file = join(dir, `${name}.edgeagg`);
        writeFileSync(file, content);
        const target = join(dir, `${name}-data`);
        const refused = edgeagg('restore', '--in', file, '--data-dir', target);
        expect(refused.status, name).toBe(1);
        expect(refused.stderr, name).toMatch(message);
        expect(existsSync(target), name).toBe(false);
        // Nothing of the attempt is left beside it.
        expect(readdirSync(dir).filter((n) => n.startsWith(`.${name}-data`)), name).toEqual([]);
      }
      const manifest = readBackupManifest(archive).manifest;
      expect(manifest.members[0]!.path).toBe('edgeagg.db');
    });
  });
});

function flipLast(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 2] = copy[copy.length - 2]! ^ 0x01;
  return copy;
}
