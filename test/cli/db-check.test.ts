/**
 * `edgeagg db check` on a data directory written by the node's write path with the aggregator built with the package: a healthy database passes (exit 0); an aggregate
 * changed behind the node's back no longer equals the fold of its events and is reported (exit 1).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/index.js';
import { CAPABILITIES, Runtime } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT } from '../helpers/guests.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
let dataDir: string;

function edgeagg(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  // The data directory as a node writes it: the aggregator built with the package, on the same write path.
  dataDir = join(tempDir('db-check'), 'data');
  const store = SqliteStore.open({ path: join(dataDir, 'edgeagg.db') });
  try {
    const built = join(ROOT, 'build/guests');
    const runtime = new Runtime({ store, trustedKeys: [readFileSync(join(built, 'build-key.pub.pem'), 'utf8')] });
    const wasm = readFileSync(join(built, 'aggregator.wasm'));
    const module = await runtime.load({ wasm, signatureFile: JSON.parse(readFileSync(join(built, 'aggregator.wasm.sig.json'), 'utf8')) as unknown }, { grants: [...CAPABILITIES] });
    expect(module.manifest.retention?.length).toBeGreaterThan(0);
    const pipeline = new IngestPipeline({ store, module, journal: store.foldJournal(module.name), foldDelayMs: 0 });
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000;
    for (let batch = 0; batch < 4; batch++) {
      const readings = Array.from({ length: 50 }, (_, i) => ({ device_id: `chk-${i % 5}`, region: `c${i % 3}`, temperature_c: i / 4, timestamp: base + (batch * 50 + i) * 9_000 }));
      const res = await pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(JSON.stringify(readings)) });
      expect(res.status).toBe(200);
    }
    await pipeline.drain();
  } finally {
    store.close();
  }
});

it('passes on a healthy database', async () => {
  const r = await edgeagg('db', 'check', '--data-dir', dataDir, '--json');
  expect(r.status, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout) as { ok: boolean; integrity: string; comparedRecords: number; problems: string[] };
  expect(result).toMatchObject({ ok: true, integrity: 'ok', problems: [] });
  expect(result.comparedRecords).toBeGreaterThan(10);
});

it('reports an aggregate that differs from the fold of its events, with exit code 1', async () => {
  const db = new Database(join(dataDir, 'edgeagg.db'));
  try {
    // The newest minute bucket of the aggregator's namespace: its first byte of value flipped.
    const row = db
      .prepare<[], { id: number; value: Buffer }>(
        `SELECT kv.id AS id, kv.value AS value FROM kv JOIN symbol s ON s.id = kv.ns
         WHERE s.name LIKE 'aggregator@%' AND substr(kv.key, 1, 1) = x'6d' ORDER BY kv.key DESC LIMIT 1`,
      )
      .get()!;
    const value = Buffer.from(row.value);
    value.writeUInt8(value.readUInt8(value.length - 1) ^ 0xff, value.length - 1);
    db.prepare('UPDATE kv SET value = ? WHERE id = ?').run(value, row.id);
  } finally {
    db.close();
  }
  const r = await edgeagg('db', 'check', '--data-dir', dataDir);
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/problems found:\n {2}record m \S+ c\d .* differs from the fold of its events/);
});

it('explains what it compares in --help', async () => {
  const r = await edgeagg('db', 'check', '--help');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('start\nafter the oldest event the log still holds');
});
