/**
 * docs/operations.md, "Backup, restore and export": its example block runs as written against a running
 * node, with `edgeagg` on PATH as an installed package puts it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

function block(): string {
  const text = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = text.slice(text.indexOf('## Backup, restore and export'));
  const m = /<!-- example[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(section);
  expect(m, 'no example block in "Backup, restore and export"').not.toBeNull();
  return m![1]!;
}

it('docs/operations.md: "Backup, restore and export" backs up a running node, restores it and exports its readings', async () => {
  const now = Date.now();
  const readings = Array.from({ length: 10 }, (_, i) => ({ device_id: `sensor-${i}`, region: 'eu-west', temperature_c: 20 + i / 2, timestamp: now - 60_000 + i }));
  expect((await node.postReadings(readings, await node.token('gateway'))).status).toBe(200);
  const tmp = tempDir('backup-docs');
  symlinkSync(join(ROOT, 'bin', 'edgeagg.js'), join(tmp, 'edgeagg'));
  const env = { ...process.env, DATA: node.dataDir, TMPDIR: tmp, PATH: `${tmp}${delimiter}${process.env.PATH ?? ''}` };
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', block()], { env, encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^backup of node-[0-9a-f]{12} \(schema \d+, .*\) written to .*node\.edgeagg: \d+ files, \d+ bytes$/m);
  expect(run.stdout).toContain('edgeagg-backup 1\n{"format":1,"node_id":"node-');
  expect(run.stdout).toMatch(/^restored node-[0-9a-f]{12} .* into .*restored$/m);
  expect(run.stdout).toContain('exported 10 readings to');
  expect(run.stdout).toContain(`device_id,region,temperature_c,timestamp\nsensor-0,eu-west,20,${now - 60_000}\nsensor-1,eu-west,20.5,${now - 59_999}\n`);
  // The export of the restored directory, cut by `head`: the same readings.
  expect(run.stdout).toContain(`{"device_id":"sensor-2","region":"eu-west","temperature_c":21,"timestamp":${now - 59_998}}\n`);
});
