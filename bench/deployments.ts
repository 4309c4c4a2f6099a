/**
 * Deployments on a node with data (issue 15's figures): the time from upload to serving for a new
 * aggregator version, the rate its state builds at (events folded per second), request latency p99 while it
 * builds and swaps against steady state, and the time from a faulty canary's first errors to its rollback.
 *
 *   npm run build && node dist/bench/deployments.js [--events N]
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { issueToken, readNodeKey } from '../src/auth/tokens.js';
import { BUILT_GUESTS, PACKAGE_ROOT } from '../src/node/index.js';
import { generateSigningKey, signModule, type Capability } from '../src/runtime/index.js';
import { withNode } from './server-process.js';

const CAPS: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const key = generateSigningKey();

function signed(wasm: Uint8Array, version: string, release: number): { module_base64: string; signature: unknown } {
  const signature = signModule(wasm, { name: 'aggregator', version, release, limits: { memory_bytes: 16 * 1024 * 1024, deadline_ms: 250 }, capabilities: CAPS }, key.privateKeyPem);
  return { module_base64: Buffer.from(wasm).toString('base64'), signature };
}

interface Latencies {
  samples: number[];
  failures: number;
}

/** Single readings from `connections` loops until `stop` aborts; latency of each request in ms. */
async function singles(url: string, token: string, connections: number, stop: AbortSignal, devicePrefix: string): Promise<Latencies> {
  // Unique readings, a few minutes old (inside the grace period, never in the future).
  const start = Date.now() - 600_000;
  const out: Latencies = { samples: [], failures: 0 };
  let seq = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_c, c) => {
      while (!stop.aborted) {
        const n = seq++;
        const t0 = performance.now();
        const res = await fetch(`${url}/v1/readings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ device_id: `${devicePrefix}-${c}`, region: `region-${n % 20}`, temperature_c: 20, timestamp: start + n }),
        });
        await res.arrayBuffer();
        out.samples.push(performance.now() - t0);
        if (res.status !== 200) out.failures++;
      }
    }),
  );
  return out;
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.99)] ?? NaN;
}

interface AppView {
  app: string;
  stable: { version: string };
  canary: { version: string } | null;
  building: { progress: { total: number } | null } | null;
  rolled_back: { version: string } | null;
}

async function json(url: string, token: string, method = 'GET', body?: unknown): Promise<{ status: number; body: { apps: AppView[] } & Record<string, unknown> }> {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { apps: AppView[] } & Record<string, unknown> };
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

export async function deploymentsBench(events = 200_000): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-bench-keys-'));
  writeFileSync(join(dir, 'bench.pub.pem'), key.publicKeyPem);
  const aggregator = readFileSync(join(BUILT_GUESTS, 'aggregator.wasm'));
  const { compileGuest } = (await import(pathToFileURL(join(PACKAGE_ROOT, 'scripts', 'build-guests.mjs')).href)) as { compileGuest: (n: string, o: string) => Promise<void> };
  await compileGuest('test-faulty-aggregator', join(dir, 'faulty.wasm'));
  const faulty = readFileSync(join(dir, 'faulty.wasm'));
  const flags = ['--trusted-keys', join(dir, 'bench.pub.pem'), '--canary-min-calls', '100', '--canary-window-ms', '60000'];
  return withNode({ flags }, async (node) => {
    const nodeKey = readNodeKey(node.dataDir);
    const gateway = await issueToken(nodeKey, { scope: 'gateway' });
    const admin = await issueToken(nodeKey, { scope: 'admin', subject: 'bench' });
    const start = Date.now() - 3_600_000;
    for (let i = 0; i < events; i += 1000) {
      const batch = Array.from({ length: 1000 }, (_x, j) => ({ device_id: `dev-${(i + j) % 2000}`, region: `region-${(i + j) % 50}`, temperature_c: ((i + j) % 400) / 10, timestamp: start + Math.floor((i + j) / 2000) * 1000 + ((i + j) % 997) }));
      const res = await fetch(`${node.url}/v1/readings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway}` }, body: JSON.stringify(batch) });
      if (res.status !== 200) throw new Error(`load: ${res.status}`);
    }
    const lines: string[] = [];
    // Steady state.
    let stop = new AbortController();
    setTimeout(() => stop.abort(), 5_000);
    const steady = await singles(node.url, gateway, 8, stop.signal, 'steady');
    // Deploy v2 under the same load: upload to serving.
    stop = new AbortController();
    const during = singles(node.url, gateway, 8, stop.signal, 'swap');
    const t0 = performance.now();
    const deployed = await json(`${node.url}/v1/deployments`, admin, 'POST', signed(aggregator, '0.2.0', 1));
    if (deployed.status !== 202) throw new Error(`deploy: ${deployed.status} ${JSON.stringify(deployed.body)}`);
    let total = 0;
    await until(async () => {
      const app = (await json(`${node.url}/v1/deployments`, admin)).body.apps.find((a) => a.app === 'aggregator')!;
      if (app.building?.progress) total = app.building.progress.total;
      return app.stable.version === '0.2.0' ? true : undefined;
    }, 600_000);
    const serveMs = performance.now() - t0;
    stop.abort();
    const swap = await during;
    lines.push(`deploy (upload to serving), ${total} events in the log: ${(serveMs / 1000).toFixed(2)} s; rebuild rate ${Math.round(total / (serveMs / 1000))} events/s`);
    lines.push(`single-reading POST p99, 8 connections: steady ${p99(steady.samples).toFixed(1)} ms (${steady.samples.length} requests), during the build and swap ${p99(swap.samples).toFixed(1)} ms (${swap.samples.length} requests); failed requests ${steady.failures + swap.failures}`);
    // A faulty canary at 10%: from its first calls to its rollback.
    stop = new AbortController();
    const devices = await Promise.all(Array.from({ length: 200 }, (_x, i) => issueToken(nodeKey, { scope: 'device', subject: `canary-${i}` })));
    let seq = 0;
    const deviceLoad = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop.signal.aborted) {
          const i = seq++;
          await fetch(`${node.url}/v1/readings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${devices[i % 200]}` },
            body: JSON.stringify({ device_id: `canary-${i % 200}`, region: 'r', temperature_c: 1, timestamp: Date.now() - 300_000 + i }),
          }).then((r) => r.arrayBuffer());
        }
      }),
    );
    const c = await json(`${node.url}/v1/deployments`, admin, 'POST', { ...signed(faulty, '0.3.0', 2), canary_percent: 10 });
    if (c.status !== 202) throw new Error(`canary: ${c.status} ${JSON.stringify(c.body)}`);
    const servingAt = await until(async () => {
      const app = (await json(`${node.url}/v1/deployments`, admin)).body.apps.find((a) => a.app === 'aggregator')!;
      return app.canary?.version === '0.3.0' || app.rolled_back?.version === '0.3.0' ? performance.now() : undefined;
    }, 600_000);
    const rolledBackAt = await until(async () => {
      const app = (await json(`${node.url}/v1/deployments`, admin)).body.apps.find((a) => a.app === 'aggregator')!;
      return app.rolled_back?.version === '0.3.0' ? performance.now() : undefined;
    }, 120_000);
    stop.abort();
    await deviceLoad;
    lines.push(`faulty canary at 10% (traps on every write; --canary-min-calls 100): rolled back ${((rolledBackAt - servingAt) / 1000).toFixed(2)} s after it began serving`);
    return lines;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = process.argv.find((a) => a.startsWith('--events='));
  for (const line of await deploymentsBench(arg ? Number(arg.slice('--events='.length)) : undefined)) console.log(line);
}
