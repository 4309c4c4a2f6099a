/** The shell examples in the docs run, as written, against a real node. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

/** The ```sh blocks that follow an `<!-- example` marker. */
function examples(file: string): string[] {
  const text = readFileSync(`${ROOT}${file}`, 'utf8');
  return [...text.matchAll(/<!-- example[^>]*-->\s*```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

it('docs/api.md: "Try it" posts readings and reads them back', async () => {
  const blocks = examples('docs/api.md');
  expect(blocks.length).toBeGreaterThan(0);
  const env = { ...process.env, URL: node.url, GATEWAY: await node.token('gateway'), READ: await node.token('read') };
  for (const block of blocks) {
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', block], { env, encoding: 'utf8' });
    expect(out).toContain('"accepted"');
  }
  const res = await node.fetch('/v1/regions/eu-west', { token: await node.token('read') });
  expect(await res.json()).toMatchObject({ region: 'eu-west', count: 3, min: 19.5, max: 23 });
});

it('README.md: "Send a reading and read it back" posts with tokens made from the data directory', () => {
  const block = examples('README.md').find((b) => b.includes('/v1/readings'));
  expect(block).toBeDefined();
  const out = execFileSync('bash', ['-euo', 'pipefail', '-c', block!], { cwd: ROOT, env: { ...process.env, URL: node.url, DATA: node.dataDir }, encoding: 'utf8' });
  expect(out).toContain('"accepted":1');
  expect(out).toMatch(/"region":"eu-west","count":\d+/);
});

it('README.md: "Writing and signing guests" signs a module that verify accepts, and writes nothing into the checkout', () => {
  const blocks = examples('README.md').filter((b) => b.includes('edgeagg sign'));
  expect(blocks.length).toBeGreaterThan(0);
  const status = () => execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT, encoding: 'utf8' });
  const before = status();
  for (const block of blocks) {
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', block], { cwd: ROOT, env: process.env, encoding: 'utf8' });
    expect(out).toMatch(/^ok: example@1\.0\.0, ABI 1, capabilities \[clock, config, events, kv, log, metrics\]/m);
  }
  expect(status()).toBe(before);
});
