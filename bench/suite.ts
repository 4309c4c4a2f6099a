/**
 * The ingest benchmark suite: the node (defaults: auth on, sandbox on, fsync'd durability) against
 * two baselines on the same machine, in one run, alternating implementations and repeating.
 *
 *   npm run bench                 # everything, 3 repeats
 *   npm run bench -- --quick      # one short repeat, under 2 minutes
 *
 * Baselines (bench/baselines/): (a) a bare node:http server doing the same validation, dedup and
 * aggregation in memory, no sandbox, no auth, no durability (the ceiling for Node here); (b) fastify +
 * better-sqlite3, one transaction per request, WAL with synchronous=NORMAL (what a developer would
 * write by hand; not power-cut durable).
 *
 * Load comes from autocannon in this process, separate from the servers, over loopback. Every request
 * carries fresh readings except about 5% that resend earlier ones (retries). After each run the
 * server's aggregates are checked against the distinct readings it acknowledged.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { issueToken, readNodeKey } from '../src/auth/tokens.js';
import { CLI, NO_CLIENT_LIMITS, cpuSeconds, launcherFlags, startListening } from './server-process.js';

const DIST = fileURLToPath(new URL('./', import.meta.url));

interface Server {
  url: string;
  token: string | undefined;
  pid: number;
  readyMs: number;
  stop(): Promise<void>;
}

export interface Impl {
  name: 'node' | 'bare-node' | 'fastify-sqlite';
  /** `nodeFlags`: more flags for the server's `node` (e.g. `--cpu-prof`). */
  start(dataDir: string, nodeFlags?: string[]): Promise<Server>;
}

async function spawnServer(
  args: string[],
  readyPath: string,
  token: (dataDir: string) => Promise<string | undefined>,
  dataDir: string,
): Promise<Server> {
  const started = performance.now();
  const server = await startListening(args);
  for (;;) {
    try {
      if ((await fetch(server.url + readyPath)).status === 200) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { url: server.url, token: await token(dataDir), pid: server.child.pid!, readyMs: performance.now() - started, stop: server.stop };
}

export const IMPLS: Impl[] = [
  {
    name: 'node',
    // As bin/edgeagg.js starts it: with the launcher's Node flags.
    start: (dataDir, nodeFlags = []) =>
      spawnServer(
        // One token drives the whole load: the per-client rate limits are off to measure the node's ceiling.
        [...nodeFlags, ...launcherFlags(), CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...NO_CLIENT_LIMITS],
        '/readyz',
        (d) => issueToken(readNodeKey(d), { scope: 'admin' }),
        dataDir,
      ),
  },
  { name: 'bare-node', start: (dataDir, nodeFlags = []) => spawnServer([...nodeFlags, join(DIST, 'baselines/bare-node.js'), '0'], '/readyz', async () => undefined, dataDir) },
  {
    name: 'fastify-sqlite',
    start: (dataDir, nodeFlags = []) =>
      spawnServer([...nodeFlags, join(DIST, 'baselines/fastify-sqlite.js'), '0', dataDir], '/readyz', async () => undefined, dataDir),
  },
];

export interface Workload {
  name: string;
  batch: number;
  connections: number;
  /** Share of requests that read `GET /v1/regions` instead of posting. */
  reads: number;
}

// Connections: enough for every implementation to reach its maximum rate here (BENCHMARKS.md has the
// sweep). The node acknowledges a request only after its group's fsync, so with few connections it
// waits for the disk rather than using its CPU: at 64 it reached ~75% of its rate at 128.
const WORKLOADS: Workload[] = [
  { name: 'single', batch: 1, connections: 128, reads: 0 },
  { name: 'batch100', batch: 100, connections: 16, reads: 0 },
  { name: 'mixed90/10', batch: 1, connections: 128, reads: 0.1 },
];

export interface Measurement {
  impl: string;
  workload: string;
  rps: number;
  readingsPerSecond: number;
  p50: number;
  p99: number;
  p999: number;
  peakRssMiB: number;
  /** CPU time of the server process (all its threads) per answered request, in µs. */
  cpuPerRequestUs: number;
  bytesPerReading: number | undefined;
  readyMs: number;
  correct: boolean;
  non2xx: number;
  errors: number;
}

function procField(pid: number, file: string, field: string): number {
  const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

let sequence = 0;
const startOfRun = Date.now() - 3_600_000;

/** One run of one workload against a fresh server of `impl`. */
export async function measure(impl: Impl, w: Workload, seconds: number, overallRate?: number, nodeFlags?: string[]): Promise<Measurement> {
  const dataDir = mkdtempSync(join(tmpdir(), `edgeagg-suite-${impl.name}-`));
  const server = await impl.start(dataDir, nodeFlags);
  try {
    const sent: Array<{ device_id: string; region: string; temperature_c: number; timestamp: number }> = [];
    const auth: Record<string, string> = server.token ? { authorization: `Bearer ${server.token}` } : {};
    const postHeaders = { ...auth, 'content-type': 'application/json' };
    let accepted = 0;
    // Readings in requests sent and in requests answered: those still in flight when the run
    // stops may or may not be stored, so they bound the check from above.
    let readingsSent = 0;
    let readingsAnswered = 0;
    const writesBefore = procField(server.pid, 'io', 'write_bytes');
    const cpuBefore = cpuSeconds(server.pid);
    let readings = 0;
    const result = await autocannon({
      url: server.url,
      connections: w.connections,
      duration: seconds,
      overallRate,
      requests: [
        {
          setupRequest: (req) => {
            if (w.reads > 0 && Math.random() < w.reads) return { ...req, method: 'GET', path: '/v1/regions', headers: auth, body: undefined };
            const items = [];
            for (let i = 0; i < w.batch; i++) {
              if (sent.length > 100 && Math.random() < 0.05) {
                items.push(sent[Math.floor(Math.random() * sent.length)]!);
                continue;
              }
              const n = sequence++;
              const r = { device_id: `dev-${n % 1000}`, region: `region-${n % 10}`, temperature_c: ((n * 7919) % 6000) / 100 - 10, timestamp: startOfRun + Math.floor(n / 1000) };
              sent.push(r);
              items.push(r);
            }
            readingsSent += items.length;
            return { ...req, method: 'POST', path: '/v1/readings', headers: postHeaders, body: JSON.stringify(w.batch === 1 ? items[0] : items) };
          },
          // The server's own count of new readings: the check below is that its aggregates hold
          // exactly those, each once.
          onResponse: (status, body) => {
            if (!body.startsWith('{"accepted"')) return;
            const answer = JSON.parse(body) as { accepted: number; duplicates: number; rejected: number };
            readingsAnswered += answer.accepted + answer.duplicates + answer.rejected;
            if (status !== 200) return;
            accepted += answer.accepted;
            readings += answer.accepted + answer.duplicates;
          },
        },
      ],
    });
    const writesAfter = procField(server.pid, 'io', 'write_bytes');
    const cpuAfter = cpuSeconds(server.pid);
    const peakRssMiB = procField(server.pid, 'status', 'VmHWM') / 1024;
    const res = await fetch(`${server.url}/v1/regions`, { headers: auth });
    const regions = ((await res.json()) as { regions: Array<{ count: number }> }).regions;
    const stored = regions.reduce((s, r) => s + r.count, 0);
    return {
      impl: impl.name,
      workload: w.name,
      rps: (result.requests.total - result.non2xx) / seconds,
      readingsPerSecond: readings / seconds,
      p50: result.latency.p50,
      p99: result.latency.p99,
      p999: result.latency.p99_9 ?? NaN,
      peakRssMiB,
      cpuPerRequestUs: ((cpuAfter - cpuBefore) * 1e6) / Math.max(1, result.requests.total),
      bytesPerReading: readings > 0 ? (writesAfter - writesBefore) / readings : undefined,
      readyMs: server.readyMs,
      correct: stored >= accepted && stored <= accepted + (readingsSent - readingsAnswered),
      non2xx: result.non2xx,
      errors: result.errors,
    };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summary(xs: number[], digits = 0): string {
  if (xs.length === 1) return xs[0]!.toFixed(digits);
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

export async function runSuite(options: { quick: boolean; log?: (line: string) => void }): Promise<string[]> {
  const log = options.log ?? (() => {});
  const repeats = options.quick ? 1 : 3;
  const seconds = options.quick ? 3 : 10;
  const all: Measurement[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const w of WORKLOADS) {
      // Alternate the order so that no implementation always runs first (or last) on a warm machine.
      const order = IMPLS.map((_, i) => IMPLS[(i + r) % IMPLS.length]!);
      for (const impl of order) {
        const m = await measure(impl, w, seconds);
        all.push(m);
        log(`repeat ${r + 1} ${w.name} ${impl.name}: ${m.rps.toFixed(0)} req/s, ${m.readingsPerSecond.toFixed(0)} readings/s, p99 ${m.p99} ms, rss ${m.peakRssMiB.toFixed(0)} MiB${m.correct ? '' : ' INCORRECT'}`);
      }
    }
    // Latency at half of the node's maximum single-reading rate, open loop, node vs bare node.
    const nodeMax = median(all.filter((m) => m.impl === 'node' && m.workload === 'single').map((m) => m.rps));
    const rate = Math.round(nodeMax / 2);
    for (const impl of IMPLS.filter((i) => i.name !== 'fastify-sqlite')) {
      const m = await measure(impl, { name: `latency@${rate}/s`, batch: 1, connections: 64, reads: 0 }, seconds, rate);
      m.workload = 'latency@half';
      all.push(m);
      log(`repeat ${r + 1} latency at ${rate} req/s ${impl.name}: p50 ${m.p50} ms, p99 ${m.p99} ms, p99.9 ${m.p999} ms`);
    }
  }

  const lines: string[] = [];
  lines.push('| Workload | Implementation | Requests/s | Readings/s | p50 ms | p99 ms | p99.9 ms | CPU µs / request | Peak RSS MiB | Bytes written / reading | Correct |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  const get = (impl: string, workload: string): Measurement[] => all.filter((m) => m.impl === impl && m.workload === workload);
  for (const workload of [...WORKLOADS.map((w) => w.name), 'latency@half']) {
    for (const impl of IMPLS) {
      const ms = get(impl.name, workload);
      if (ms.length === 0) continue;
      const bytes = ms.map((m) => m.bytesPerReading).filter((b): b is number => b !== undefined);
      lines.push(
        `| ${workload} | ${impl.name} | ${summary(ms.map((m) => m.rps))} | ${summary(ms.map((m) => m.readingsPerSecond))} | ${summary(ms.map((m) => m.p50))} | ` +
          `${summary(ms.map((m) => m.p99))} | ${summary(ms.map((m) => m.p999))} | ${summary(ms.map((m) => m.cpuPerRequestUs))} | ${summary(ms.map((m) => m.peakRssMiB))} | ` +
          `${bytes.length ? summary(bytes) : '–'} | ${ms.every((m) => m.correct) ? 'yes' : 'NO'} |`,
      );
    }
  }
  const ratio = (a: string, b: string, w: string, f: (m: Measurement) => number): number => median(get(a, w).map(f)) / median(get(b, w).map(f));
  lines.push('');
  lines.push('| Target | Measured | Met |');
  lines.push('|---|---|---|');
  const target = (name: string, value: number, ok: boolean, digits = 2): void => {
    lines.push(`| ${name} | ${value.toFixed(digits)} | ${ok ? 'yes' : 'no'} |`);
  };
  const single = ratio('node', 'bare-node', 'single', (m) => m.rps);
  target('single readings: node / bare node requests/s ≥ 0.8', single, single >= 0.8);
  const vsFastify = ratio('node', 'fastify-sqlite', 'single', (m) => m.rps);
  target('single readings: node / fastify+better-sqlite3 requests/s ≥ 1.5', vsFastify, vsFastify >= 1.5);
  const batch = ratio('node', 'bare-node', 'batch100', (m) => m.readingsPerSecond);
  target('batches of 100: node / bare node readings/s ≥ 0.7', batch, batch >= 0.7);
  const p99 = ratio('node', 'bare-node', 'latency@half', (m) => m.p99);
  target('p99 at half the node maximum: node / bare node ≤ 1.5', p99, p99 <= 1.5);
  const bytes = median(get('node', 'batch100').map((m) => m.bytesPerReading ?? NaN));
  target('bytes written per reading, batches of 100 ≤ 300', bytes, bytes <= 300, 0);
  const rss = Math.max(...all.filter((m) => m.impl === 'node').map((m) => m.peakRssMiB));
  target('peak RSS under full load ≤ 128 MiB', rss, rss <= 128, 0);
  const ready = median(all.filter((m) => m.impl === 'node').map((m) => m.readyMs));
  target('ready to serve after start ≤ 500 ms (median)', ready, ready <= 500, 0);
  return lines;
}
