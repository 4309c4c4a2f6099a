/**
 * docs/operations.md, "Modules and deployments": its example block runs as written against a running node,
 * with `edgeagg` on PATH as an installed package puts it: a key of one's own, trusted through the data
 * directory, a canary deploy that waits until it serves, the list, and the promotion.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function block(): string {
  const text = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = text.slice(text.indexOf('## Modules and deployments'));
  const m = /<!-- example[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(section);
  expect(m, 'no example block in "Modules and deployments"').not.toBeNull();
  return m![1]!;
}

it('docs/operations.md: "Modules and deployments" deploys a canary to a running node and promotes it', async () => {
  const tmp = tempDir('deploy-docs');
  symlinkSync(join(ROOT, 'bin', 'edgeagg.js'), join(tmp, 'edgeagg'));
  const env = {
    ...process.env,
    URL: node.url,
    ADMIN: await node.token('admin', 'ops'),
    DATA: node.dataDir,
    MODULE: join(ROOT, 'build/guests/aggregator.wasm'),
    TMPDIR: tmp,
    PATH: `${tmp}${delimiter}${process.env.PATH ?? ''}`,
  };
  const moduleBefore = digest(env.MODULE);
  const signatureBefore = digest(`${env.MODULE}.sig.json`);
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', block()], { env, encoding: 'utf8', timeout: 90_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('aggregator@0.2.0 serves (canary 10%)');
  expect(run.stdout).toMatch(/canary {4}0\.2\.0 \(10%/);
  expect(run.stdout).toContain('aggregator: the canary is now the stable version');
  const res = await node.fetch('/v1/deployments', { token: env.ADMIN });
  const { apps } = (await res.json()) as { apps: Array<{ app: string; stable: { version: string }; canary: unknown }> };
  expect(apps.find((a) => a.app === 'aggregator')).toMatchObject({ stable: { version: '0.2.0' }, canary: null });
  // Nothing was written into the checkout: the build's module and its signature are as they were.
  expect(digest(env.MODULE)).toBe(moduleBefore);
  expect(digest(`${env.MODULE}.sig.json`)).toBe(signatureBefore);
});
