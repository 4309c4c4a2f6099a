/** `edgeagg cluster`: a local fleet from one command, stopped by Ctrl-C; a clear answer when nats-server is missing. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { requireBinary } from '../helpers/binaries.js';
import { until } from '../helpers/poll.js';

const MAIN = join(ROOT, 'dist/src/cli/main.js');

it('says how to install nats-server when it is missing', async () => {
  const child = spawn(process.execPath, [MAIN, 'cluster', '--nats-server', '/nonexistent/nats-server'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code).toBe(1);
  expect(stderr).toContain('sudo apt-get install nats-server');
  expect(stderr).toContain('/nonexistent/nats-server');
});

it(
  'starts a nats-server and N nodes that replicate, prints their addresses and tokens, and Ctrl-C stops them all',
  async () => {
    requireBinary('nats-server');
    const child = spawn(process.execPath, [MAIN, 'cluster', '--nodes', '2', '--base-port', '0', '--nats-port', '0', '--anti-entropy-interval-ms', '1000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await until(() => stdout.includes('Ctrl-C stops everything'), { timeoutMs: 30_000, intervalMs: 250, message: () => stdout });
      const urls = [...stdout.matchAll(/node-\d+\s+(http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!);
      const gateway = /GATEWAY=(\S+)/.exec(stdout)![1]!;
      const read = /READ=(\S+)/.exec(stdout)![1]!;
      const dir = /data in (\S+)/.exec(stdout)![1]!;
      expect(urls).toHaveLength(2);
      const reading = { device_id: 'cli-sensor', region: 'eu-west', temperature_c: 20.5, timestamp: Date.now() };
      const posted = await fetch(`${urls[0]}/v1/readings`, { method: 'POST', headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json' }, body: JSON.stringify(reading) });
      expect(posted.status).toBe(200);
      await until(
        async () => {
          const res = await fetch(`${urls[1]}/v1/regions/eu-west`, { headers: { authorization: `Bearer ${read}` } });
          return res.status === 200 && ((await res.json()) as { count: number }).count === 1;
        },
        { timeoutMs: 15_000, intervalMs: 250, message: 'node-2 never saw the reading' },
      );
      const fleet = async () => (await (await fetch(`${urls[1]}/v1/fleet`, { headers: { authorization: `Bearer ${read}` } })).json()) as { nodes: Array<{ node_id: string }> };
      await until(async () => (await fleet()).nodes.length === 2, { timeoutMs: 10_000, intervalMs: 250, message: async () => JSON.stringify(await fleet()) });
      expect((await fleet()).nodes.map((n) => n.node_id).sort()).toEqual(['node-1', 'node-2']);

      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(dir)).toBe(false);
      for (const url of urls) await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  },
  60_000,
);
