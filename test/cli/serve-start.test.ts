/**
 * `edgeagg serve` as a newcomer meets it: clear messages instead of Node's raw ones when it cannot start,
 * first-start tokens that survive a failed first start, `--no-auth`, and SIGHUP not stopping the node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function serveSync(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--log-level', 'error', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `serve` and waits for its banner; the output so far is in `out.text`. */
async function serve(...args: string[]): Promise<{ child: ChildProcess; out: { text: string }; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--log-level', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = { text: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.text += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.text += d));
  await until(() => /listening on (http:\S+)/.test(out.text) || child.exitCode !== null, { timeoutMs: 20_000, message: () => `the node did not start: ${out.text}` });
  const url = /listening on (http:\S+)/.exec(out.text)?.[1];
  if (!url) throw new Error(`the node did not start: ${out.text}`);
  return { child, out, url };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('edgeagg serve cannot start: it says why, and what to change', () => {
  it('a port out of range', () => {
    const r = serveSync('--port', '70000', '--data-dir', tempDir('serve'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('edgeagg: --port: port must be a whole number from 0 to 65535, got "70000"');
  });

  it('a data directory it cannot create (a file is in its path)', () => {
    const dir = tempDir('serve');
    writeFileSync(join(dir, 'file'), '');
    const r = serveSync('--port', '0', '--data-dir', join(dir, 'file', 'data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^edgeagg: cannot use the data directory .*file\/data: a part of the path is a file, not a directory\. Pass --data-dir/m);
    expect(r.stderr).not.toMatch(/ENOTDIR|at .*\.js:\d+/);
  });

  it('a database it cannot open', () => {
    const dir = tempDir('serve');
    mkdirSync(join(dir, 'edgeagg.db'));
    const r = serveSync('--port', '0', '--data-dir', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^edgeagg: cannot open the database .*edgeagg\.db: a directory is in the way/m);
  });

  it('a port in use; the first start that failed still gets its tokens at the next start', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as AddressInfo).port;
    const dir = tempDir('serve');
    try {
      const r = serveSync('--port', String(port), '--data-dir', dir);
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(`edgeagg: port ${port} on 127.0.0.1 is in use (another node or program listens there): stop it, or pass --port (0 picks a free one)`);
    } finally {
      holder.close();
    }
    const first = await serve('--data-dir', dir);
    expect(first.out.text).toMatch(/first start: created this node's token key/);
    expect(first.out.text).toMatch(/sensors \(gateway, any device\): ey/);
    await stop(first.child);
    const second = await serve('--data-dir', dir);
    expect(second.out.text).not.toMatch(/first start|#token=/);
    await stop(second.child);
  });
});

describe('edgeagg serve, running', () => {
  it('--no-auth serves reads without a token; SIGHUP does not stop the node', async () => {
    const { child, url } = await serve('--no-auth', '--data-dir', tempDir('serve'));
    expect((await fetch(`${url}/v1/regions`)).status).toBe(200);
    child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await stop(child);
  });

  it('the help lists --no-auth and shows defaults as people write them', () => {
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toMatch(/--no-auth/);
    expect(help).toMatch(/--port <value>.*default 8787\)/);
    expect(help).toMatch(/--data-dir <value>.*default \.\/data\)/);
    expect(help).not.toMatch(/default "/);
  });
});
