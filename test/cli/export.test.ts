/**
 * `edgeagg export` (issue 17): the raw readings of a region and time range, read from a running node's
 * database, equal what was posted, as NDJSON and as CSV; a progress bar on a terminal's stderr and none
 * otherwise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { ROOT } from '../helpers/guests.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const edgeagg = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

let node: NodeProcess;
useNodeProcess((n) => (node = n));

const base = Date.now() - 3_600_000;
/** 3 regions x 40 readings, times base .. base + 39_000; values with fractions, negatives and zero. */
const posted: Reading[] = [];
for (let i = 0; i < 120; i++) {
  posted.push({
    device_id: `dev:${i % 6}.x_${i % 4}`,
    region: ['exp-a', 'exp-b', 'exp-c'][i % 3]!,
    temperature_c: [21.5, -3.25, 0, 99.99, -40.125, 18.333][i % 6]! + (i % 5) / 100,
    timestamp: base + Math.floor(i / 3) * 1000 + (i % 2),
  });
}

/** What the export of `region` and `[from, to)` must print: the posted readings in (timestamp, device) order. */
function expected(region: string | undefined, from: number, to: number): Reading[] {
  return posted
    .filter((r) => (region === undefined || r.region === region) && r.timestamp >= from && r.timestamp < to)
    .sort((a, b) => a.timestamp - b.timestamp || (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0));
}

beforeAll(async () => {
  const res = await node.postReadings(posted, await node.token('gateway'));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(posted.length);
});

describe('edgeagg export', () => {
  const from = base + 5_000;
  const to = base + 30_000;

  it('NDJSON on stdout: the posted readings of the region and range, while the node runs', () => {
    const run = edgeagg('export', '--data-dir', node.dataDir, '--region', 'exp-a', '--from', String(from), '--to', String(to), '--format', 'ndjson');
    expect(run.status, run.stderr).toBe(0);
    // stderr is not a terminal: no progress bar.
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    const want = expected('exp-a', from, to);
    expect(want.length).toBeGreaterThan(5);
    expect(lines.map((l) => JSON.parse(l) as Reading)).toEqual(want);
    // Every region, the whole range, is every reading posted.
    const all = edgeagg('export', '--data-dir', node.dataDir);
    expect(all.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Reading)).toEqual(expected(undefined, 0, Number.MAX_SAFE_INTEGER));
  });

  it('CSV to a file, with a header line, and a summary on stdout', () => {
    const dir = tempDir('export-csv');
    const out = join(dir, 'readings.csv');
    const run = edgeagg('export', '--data-dir', node.dataDir, '--region', 'exp-b', '--from', String(from), '--to', String(to), '--format', 'csv', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const want = expected('exp-b', from, to);
    expect(JSON.parse(run.stdout)).toEqual({ out, format: 'csv', readings: want.length });
    const csv = want.map((r) => `${r.device_id},${r.region},${r.temperature_c},${r.timestamp}\n`).join('');
    expect(readFileSync(out, 'utf8')).toBe(`device_id,region,temperature_c,timestamp\n${csv}`);
    // Only the file: its partial copy was renamed into place.
    expect(readdirSync(dir)).toEqual(['readings.csv']);
  });

  it('a region with no readings is an empty export; a bad --format is refused', () => {
    const none = edgeagg('export', '--data-dir', node.dataDir, '--region', 'nowhere', '--format', 'csv');
    expect(none.status).toBe(0);
    expect(none.stdout).toBe('device_id,region,temperature_c,timestamp\n');
    const bad = edgeagg('export', '--data-dir', node.dataDir, '--format', 'xml');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("argument 'xml' is invalid. Allowed choices are ndjson, csv.");
  });

  it('draws a progress bar when stderr is a terminal', () => {
    const script = requireBinary('script');
    const out = join(tempDir('export-tty'), 'all.ndjson');
    const command = [process.execPath, CLI, 'export', '--data-dir', node.dataDir, '--out', out].map((a) => `'${a}'`).join(' ');
    // util-linux `script` runs the command on a pseudo-terminal: its stderr is a TTY.
    const run = spawnSync(script, ['-qefc', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toContain(`] 100% ${posted.length}/${posted.length} readings`);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(posted.length);
  });
});
