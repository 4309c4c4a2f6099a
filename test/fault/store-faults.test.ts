/**
 * Real store faults against a real node process: a database locked by another process, a full
 * disk, failing fsyncs. Each gives its own error code, nothing half-written, the circuit breaker
 * opens (503 at once, with Retry-After) and the node recovers by itself when the fault clears.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';

const BREAKER = { 'breaker-threshold': '3', 'breaker-window-ms': '10000', 'breaker-cooldown-ms': '300' };
const nodes: NodeProcess[] = [];
let seq = 0;

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.stop();
    n.cleanup();
  }
});

async function start(options: Parameters<typeof NodeProcess.start>[0] = {}): Promise<{ node: NodeProcess; gateway: string; reader: string }> {
  const node = await NodeProcess.start({ ...options, flags: { ...BREAKER, ...options.flags } });
  nodes.push(node);
  return { node, gateway: await node.token('gateway'), reader: await node.token('read') };
}

function batch(region: string, n: number) {
  const t = Date.now() - 60_000;
  return Array.from({ length: n }, () => ({ device_id: `fault-${seq}`, region, temperature_c: 20, timestamp: t + seq++ }));
}

async function post(node: NodeProcess, token: string, body: unknown): Promise<{ status: number; code?: string; retryAfter: string | null; body: unknown }> {
  const res = await node.postReadings(body, token);
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code, retryAfter: res.headers.get('retry-after'), body: json };
}

async function count(node: NodeProcess, reader: string, region: string): Promise<number> {
  const res = await node.fetch(`/v1/regions/${region}`, { token: reader });
  return res.status === 404 ? 0 : ((await res.json()) as { count: number }).count;
}

/** Posts until the answer is `code` (bounded). */
async function postUntil(node: NodeProcess, token: string, region: string, code: string, size = 1): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if ((await post(node, token, batch(region, size))).code === code) return;
  }
  throw new Error(`never answered ${code}`);
}

function integrity(dataDir: string): string {
  const db = new Database(join(dataDir, 'edgeagg.db'), { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('a database locked by another process (SQLITE_BUSY)', () => {
  it('answers store_busy, opens the circuit, and recovers when the lock is released', async () => {
    const { node, gateway, reader } = await start();
    expect((await post(node, gateway, batch('busy', 5))).status).toBe(200);

    const locker = spawn(process.execPath, ['-e', `
      const D = require(${JSON.stringify(join(ROOT, 'node_modules/better-sqlite3'))});
      const db = new D(${JSON.stringify(join(node.dataDir, 'edgeagg.db'))});
      db.exec('BEGIN EXCLUSIVE'); process.stdout.write('locked\\n');
      process.stdin.on('data', () => {}); process.stdin.on('end', () => { db.exec('COMMIT'); process.exit(0); });`], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((r) => locker.stdout!.once('data', () => r()));

    const first = await post(node, gateway, batch('busy', 5));
    expect(first.status).toBe(503);
    expect(first.code).toBe('store_busy');
    expect(first.retryAfter).not.toBeNull();
    await postUntil(node, gateway, 'busy', 'circuit_open');
    const open = await post(node, gateway, batch('busy', 1));
    expect(open.status).toBe(503);
    expect(open.code).toBe('circuit_open');
    expect(Number(open.retryAfter)).toBeGreaterThanOrEqual(1);
    const ready = await node.fetch('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, circuit: 'open' });

    locker.stdin!.end();
    await new Promise((r) => locker.once('exit', r));
    await until(async () => (await post(node, gateway, batch('busy', 5))).status === 200, { message: 'still refused after the lock was released' });
    expect((await node.fetch('/readyz')).status).toBe(200);
    // Only the acknowledged batches were stored: the first and the one that closed the circuit.
    expect(await count(node, reader, 'busy')).toBe(10);
    await node.stop();
    expect(integrity(node.dataDir)).toBe('ok');
  });
});

describe('a full disk', () => {
  it('max_page_count: disk_full, nothing of the refused batch stored, no corruption', async () => {
    const { node, gateway, reader } = await start({ flags: { 'max-db-pages': '400' } });
    let accepted = 0;
    let full: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 200 && !full; i++) {
      const r = await post(node, gateway, batch('full', 200));
      if (r.status === 200) accepted += 200;
      else full = r;
    }
    expect(full?.status).toBe(503);
    expect(full?.code).toBe('disk_full');
    expect(await count(node, reader, 'full')).toBe(accepted);
    await postUntil(node, gateway, 'full', 'circuit_open', 200);
    await node.stop();
    expect(integrity(node.dataDir)).toBe('ok');
  });

  it('a small filesystem that fills up: the node recovers by itself when space is freed', async () => {
    const mnt = tempDir('tmpfs');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch (error) {
      // A real small filesystem is the point of this test: no stand-in, and no silent skip.
      throw new Error('this test mounts a 3 MiB tmpfs and needs the permission to (run npm test as root, as CI does)', { cause: error });
    }
    try {
      const { node, gateway, reader } = await start({ dataDir: join(mnt, 'data') });
      expect((await post(node, gateway, batch('tmpfs', 10))).status).toBe(200);
      // Fill what is left of the filesystem.
      const filler = join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
      let code: string | undefined;
      for (let i = 0; i < 50 && code === undefined; i++) {
        const r = await post(node, gateway, batch('tmpfs', 500));
        if (r.status !== 200) code = r.code;
      }
      expect(['disk_full', 'io_error', 'circuit_open']).toContain(code);
      const before = await count(node, reader, 'tmpfs');
      rmSync(filler);
      await until(async () => (await post(node, gateway, batch('tmpfs', 10))).status === 200, { message: 'still refused after space was freed' });
      expect(await count(node, reader, 'tmpfs')).toBe(before + 10);
      await node.stop();
      expect(integrity(node.dataDir)).toBe('ok');
    } finally {
      for (const n of nodes.splice(0)) await n.stop();
      execFileSync('umount', [mnt]);
    }
  });
});

describe('failing fsync (EIO)', () => {
  it('acknowledges nothing while fsync fails, and a retry after recovery is counted once', async () => {
    const dir = tempDir('eio');
    const shim = join(dir, 'eio-shim.so');
    execFileSync('cc', ['-shared', '-fPIC', '-o', shim, join(ROOT, 'test/fault/eio-shim.c'), '-ldl']);
    const flag = join(dir, 'fail-now');
    const { node, gateway, reader } = await start({ env: { LD_PRELOAD: shim, EDGEAGG_EIO_FLAG: flag } });
    expect((await post(node, gateway, batch('eio', 3))).status).toBe(200);
    writeFileSync(flag, '');
    const retried = batch('eio', 4);
    const failed = await post(node, gateway, retried);
    expect(failed.status).toBe(503);
    expect(failed.code).toBe('io_error');
    await postUntil(node, gateway, 'eio', 'circuit_open');
    rmSync(flag);
    expect(existsSync(flag)).toBe(false);
    // The sensor retries the same readings: they count once whatever happened to the first try.
    let answer: Awaited<ReturnType<typeof post>> | undefined;
    await until(
      async () => {
        answer = await post(node, gateway, retried);
        return answer.status === 200;
      },
      { message: 'still refused after fsync recovered' },
    );
    const body = answer!.body as { accepted: number; duplicates: number };
    expect(body.accepted + body.duplicates).toBe(4);
    const stored = await count(node, reader, 'eio');
    expect(stored).toBeGreaterThanOrEqual(7);
    // Readings refused during the failure that were not retried may or may not be stored, but
    // none is counted twice: the count equals the distinct readings stored.
    await node.stop();
    expect(integrity(node.dataDir)).toBe('ok');
  });
});
