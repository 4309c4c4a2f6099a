/**
 * `edgeagg simulate` as a user runs it: a child process against a real node, its summary on
 * stdout, and its exit code (1 when the node's aggregates do not match).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';
import { sleep } from '../helpers/poll.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

function simulate(args: string[]): { exit: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'simulate', '--url', node.url, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { exit: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))) };
}

describe('edgeagg simulate', () => {
  it('runs a fleet for its duration, prints a summary and PASS, and exits 0', async () => {
    const { code, stdout, stderr } = await simulate(['--data-dir', node.dataDir, '--duration', '2', '--rate', '100', '--regions', 'cli-a,cli-b', '--seed', '5']).exit;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/simulated 20 sensors in 2 regions \(cli-a, cli-b\)/);
    expect(stdout).toMatch(/one device token per sensor/);
    expect(stdout).toMatch(/^ {2}cli-a +count \d+/m);
    expect(stdout).toMatch(/^PASS: the node's aggregates of 2 regions match/m);
    // Not a terminal: no progress line redrawn with carriage returns.
    expect(stdout).not.toContain('\r');
  });

  it('says the check cannot be exact, and does not fail, when another client writes to its regions (the demo fleet)', async () => {
    const run = simulate(['--data-dir', node.dataDir, '--duration', '2', '--rate', '50', '--regions', 'cli-shared', '--no-faults']);
    // Another writer in the same region during the run: more readings than this run and the past.
    await sleep(1_000);
    const res = await node.postReadings({ device_id: 'intruder', region: 'cli-shared', temperature_c: 99, timestamp: Date.now() }, await node.token('gateway'));
    expect(res.status).toBe(200);
    const { code, stdout } = await run.exit;
    expect(code).toBe(0);
    expect(stdout).toMatch(/cli-shared .*count \d+, expected \d+: 1 readings from other clients/);
    expect(stdout).toMatch(/^CHECK SKIPPED: other clients wrote to cli-shared during the run/m);
  });

  it('refuses bad options with a message', async () => {
    const { code, stderr } = await simulate(['--retry-share', '2']).exit;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/share from 0 to 1/);
  });
});
