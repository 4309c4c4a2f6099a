/** `edgeagg status` and `edgeagg --version`, run as real processes against a real node. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');

function edgeagg(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, EDGEAGG_TOKEN: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let node: NodeProcess;
let read: string;

beforeAll(async () => {
  node = await NodeProcess.start();
  read = await node.token('read');
  const gateway = await node.token('gateway');
  const res = await node.postReadings([{ device_id: 'st-1', region: 'eu-west', temperature_c: 20, timestamp: Date.now() - 60_000 }], gateway);
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

describe('edgeagg status', () => {
  it('shows the module, readiness, circuit, reading counts and the fleet', () => {
    const r = edgeagg('status', '--url', node.url, '--token', read, '--interval', '200');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ready\s+yes$/m);
    expect(r.stdout).toMatch(/^circuit\s+closed$/m);
    expect(r.stdout).toMatch(/^module\s+aggregator@/m);
    expect(r.stdout).toMatch(/since start: 1 accepted, 0 duplicates, 0 rejected/);
    expect(r.stdout).toMatch(/^fleet\s+alone \(no replication\)$/m);
  });

  it('prints JSON with --json', () => {
    const r = edgeagg('status', '--url', node.url, '--token', read, '--interval', '200', '--json');
    expect(r.status, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ url: node.url, ready: true, circuit: 'closed', totals: { accepted: 1, duplicates: 0, rejected: 0 }, fleet: { replication: 'off' } });
    expect(status.rates).toEqual({ accepted: expect.any(Number), duplicates: expect.any(Number), rejected: expect.any(Number) });
  });

  it('says what to pass without a token, and when the node is not there', () => {
    const noToken = edgeagg('status', '--url', node.url, '--interval', '200');
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toMatch(/answered 401: pass a read token with --token/);
    const nowhere = edgeagg('status', '--url', 'http://127.0.0.1:9', '--token', read);
    expect(nowhere.status).toBe(1);
    expect(nowhere.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:9/);
    const badInterval = edgeagg('status', '--url', node.url, '--interval', 'soon');
    expect(badInterval.status).toBe(1);
    expect(badInterval.stderr).toMatch(/--interval <ms>' argument 'soon' is invalid\. expected a whole number/);
  });
});

describe('edgeagg --version', () => {
  it("prints the package's version, and leaves sign's own --version alone", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(edgeagg('--version').stdout.trim()).toBe(version);
    expect(edgeagg('-V').stdout.trim()).toBe(version);
  });
});
