/**
 * Durable ingest under each durability setting, and goodput under overload. A real node process per
 * run; load from autocannon in this (separate) process, over loopback, each request with fresh
 * readings.
 *
 *   npm run build && node dist/bench/durability.js [--quick]
 */
import autocannon from 'autocannon';
import { issueToken, readNodeKey } from '../src/auth/tokens.js';
import { withNode } from './server-process.js';


interface RunResult {
  rps: number;
  readingsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** A fresh node with a gateway token. */
function withGateway<T>(flags: string[], fn: (url: string, token: string) => Promise<T>): Promise<T> {
  return withNode({ flags }, async (node) => fn(node.url, await issueToken(readNodeKey(node.dataDir), { scope: 'gateway' })));
}

let counter = 0;
const base = Date.now() - 3_600_000;

export async function load(url: string, token: string, batch: number, seconds: number, connections: number, overallRate?: number): Promise<RunResult> {
  const result = await autocannon({
    url: `${url}/v1/readings`,
    method: 'POST',
    connections,
    duration: seconds,
    overallRate,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    requests: [
      {
        setupRequest: (req) => {
          const items = [];
          for (let i = 0; i < batch; i++) {
            counter++;
            items.push({ device_id: `bench-${counter % 1000}`, region: `r${counter % 10}`, temperature_c: (counter % 400) / 10, timestamp: base + Math.floor(counter / 1000) });
          }
          return { ...req, body: JSON.stringify(batch === 1 ? items[0] : items) };
        },
      },
    ],
  });
  const ok = result.requests.total - result.non2xx;
  return {
    rps: ok / seconds,
    readingsPerSecond: (ok * batch) / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export async function durabilityBench(quick: boolean): Promise<string[]> {
  const seconds = quick ? 3 : 8;
  const lines: string[] = [];
  const modes: Array<[string, string[]]> = [
    ['full, group commit (default)', []],
    ['full, one fsync per request', ['--group-commit', 'false']],
    ['normal (no fsync)', ['--durability', 'normal']],
  ];
  for (const batch of [1, 100]) {
    for (const [name, flags] of modes) {
      const r = await withGateway(flags, (url, token) => load(url, token, batch, seconds, batch === 1 ? 64 : 16));
      lines.push(`batch=${batch} ${name}: ${r.rps.toFixed(0)} req/s, ${r.readingsPerSecond.toFixed(0)} readings/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
  }
  // Overload: capacity closed-loop, then open-loop offered load at 1x, 2x and 5x of it.
  await withGateway([], async (url, token) => {
    const capacity = await load(url, token, 1, seconds, 64);
    lines.push(`capacity (single readings, closed loop): ${capacity.rps.toFixed(0)} req/s`);
    const light = Math.round(capacity.rps / 10);
    const before = await load(url, token, 1, seconds, 16, light);
    lines.push(`light load before (${light} req/s): p50 ${before.p50} ms, p99 ${before.p99} ms`);
    for (const factor of [1, 2, 5]) {
      const offered = Math.round(capacity.rps * factor);
      const r = await load(url, token, 1, seconds, 256, offered);
      lines.push(`offered ${factor}x (${offered} req/s): goodput ${r.rps.toFixed(0)} req/s (${((100 * r.rps) / capacity.rps).toFixed(0)}% of capacity), p99 ${r.p99} ms, shed/failed ${r.non2xx}, errors ${r.errors}`);
    }
    // When the load drops, latency comes back: the same light load right after the 5x run.
    const after = await load(url, token, 1, seconds, 16, light);
    lines.push(`light load right after 5x (${light} req/s): p50 ${after.p50} ms, p99 ${after.p99} ms`);
  });
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await durabilityBench(process.argv.includes('--quick'))) console.log(line);
}
