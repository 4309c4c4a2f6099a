/**
 * Replication figures (BENCHMARKS.md): catch-up rate from a backlog, replication lag in steady state on
 * loopback, and bytes on the wire per reading.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replication.js [--backlog 200000] [--rate 1000] [--seconds 20]
 *
 * A real nats-server (JetStream, file storage, in a temporary directory) and three nodes (EdgeNode, in this
 * process, each with its own data directory and durability `full`). Each node reaches NATS through its own
 * counting TCP proxy, so "bytes on the wire" is every byte of the NATS protocol both ways: publishes and
 * their acknowledgements, deliveries and acks, pull requests, heartbeats, anti-entropy.
 *
 * - steady state: a client posts `--rate` readings/s to node A (batches of 10 every 10 ms) for `--seconds`;
 *   lag of a reading = when node B folded it (durable) minus when A answered 2xx for it.
 * - wire: the bytes of all three connections during the steady state, per reading, minus the idle traffic
 *   (heartbeats, anti-entropy rounds, pull requests) measured over the same time before it.
 * - catch-up: node C stops; `--backlog` readings are posted to A (batches of 10,000) and published; C starts
 *   again; the rate is readings folded per second from C's first fold to its last, and from its start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../src/auth/tokens.js';
import { EdgeNode } from '../src/node/edge-node.js';
import { resolveSettings } from '../src/node/settings.js';

interface Counter {
  up: number;
  down: number;
}

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(argv[i + 1]);
}

function findNatsServer(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new Error('nats-server not found: apt-get install nats-server');
}

async function startNats(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(findNatsServer(), ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m && log.includes('Server is ready')) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(log)));
  });
  return { child, port };
}

/** A TCP proxy to the NATS port that counts the bytes of every connection through it. */
function countingProxy(target: number, counter: Counter): Promise<{ server: Server; port: number }> {
  const server = createServer((client) => {
    const upstream = tcpConnect(target, '127.0.0.1');
    client.on('data', (d) => {
      counter.up += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      counter.down += d.length;
      client.write(d);
    });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

async function startNode(dir: string, name: string, natsPort: number): Promise<EdgeNode> {
  const settings = resolveSettings(
    { 'data-dir': join(dir, name), port: 0, 'node-id': name, nats: `nats://127.0.0.1:${natsPort}`, 'log-level': 'warn', 'anti-entropy-interval-ms': 30_000 },
    {},
    undefined,
  );
  return EdgeNode.start({ settings });
}

function reading(prefix: string, i: number, devices: number, startMs: number) {
  const device = i % devices;
  return { device_id: `${prefix}-${device}`, region: `region-${device % 10}`, temperature_c: 15 + (i % 1000) / 100, timestamp: startMs + Math.floor(i / devices) * 1000 + device };
}

async function post(node: EdgeNode, token: string, body: unknown[]): Promise<void> {
  const res = await fetch(`${node.url}/v1/readings`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 300)}`);
  const result = JSON.parse(text) as { accepted: number; results: Array<{ status: string; error?: { code: string } }> };
  if (result.accepted !== body.length) throw new Error(`not all readings were accepted: ${JSON.stringify(result.results.find((r) => r.status !== 'accepted'))}`);
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function until(probe: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function replicationBench(options: { backlog: number; rate: number; seconds: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-bench-repl-'));
  const nats = await startNats(dir);
  const counters: Counter[] = [0, 1, 2].map(() => ({ up: 0, down: 0 }));
  const proxies = await Promise.all(counters.map((c) => countingProxy(nats.port, c)));
  const total = (): number => counters.reduce((s, c) => s + c.up + c.down, 0);
  const nodes: EdgeNode[] = [];
  try {
    const [a, b] = [await startNode(dir, 'a', proxies[0]!.port), await startNode(dir, 'b', proxies[1]!.port)];
    let c = await startNode(dir, 'c', proxies[2]!.port);
    nodes.push(a, b, c);
    // Every node trusts only its own key: the client uses each node's own tokens.
    const gateway = await issueToken(a.nodeKey, { scope: 'gateway' });
    await until(() => [a, b, c].every((n) => n.replication!.fleetInfo().nodes.length === 3), 15_000, 'fleet formed');

    // --- idle traffic ---
    const idleStart = total();
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const idleBytesPerSecond = (total() - idleStart) / options.seconds;

    // --- steady state ---
    const ackedAt = new Map<string, number>();
    const lags: number[] = [];
    const offB = b.replication!.onApplied((events) => {
      const now = performance.now();
      for (const e of events) {
        const k = `${e.source}\n${e.timeMs}`;
        const acked = ackedAt.get(k);
        if (acked !== undefined) lags.push(now - acked);
        else ackedAt.set(k, -now); // folded before A answered: lag recorded when the answer comes
      }
    });
    const perTick = Math.max(1, Math.round(options.rate / 100));
    const ticks = Math.round(options.seconds * 100);
    const steadyStart = total();
    const perNodeStart = counters.map((c) => c.up + c.down);
    const began = performance.now();
    const inflight: Promise<void>[] = [];
    for (let t = 0; t < ticks; t++) {
      // Timestamped now, as sensors do: readings in flight are then in the minutes anti-entropy leaves alone.
      const now = Date.now();
      const batch = Array.from({ length: perTick }, (_, j) => ({ ...reading('steady', t * perTick + j, 500, 0), timestamp: now }));
      inflight.push(
        post(a, gateway, batch).then(() => {
          const now = performance.now();
          for (const r of batch) {
            const k = `${r.device_id}\n${r.timestamp}`;
            const folded = ackedAt.get(k);
            if (folded !== undefined && folded < 0) lags.push(Math.max(0, -folded - now));
            else ackedAt.set(k, now);
          }
        }),
      );
      const due = began + (t + 1) * 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);
    const steadyReadings = ticks * perTick;
    if (process.env.BENCH_DEBUG) {
      await new Promise((r) => setTimeout(r, 5000));
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
      const jsm = await jetstreamManager(nc);
      console.log('stream', JSON.stringify((await jsm.streams.info('EDGEAGG_EVENTS')).state));
      for (const n of ['a', 'b', 'c']) {
        const ci = await jsm.consumers.info('EDGEAGG_EVENTS', `edgeagg_${n}`);
        console.log(n, JSON.stringify({ pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered, waiting: ci.num_waiting, delivered: ci.delivered, ackFloor: ci.ack_floor }));
      }
      console.log('a publisher', JSON.stringify(a.replication!.fleetInfo().publisher), 'lags', lags.length);
      await nc.close();
    }
    await until(() => lags.length >= steadyReadings, 60_000, () => `steady-state readings folded at b: ${lags.length} of ${steadyReadings}; b: ${JSON.stringify(b.replication!.fleetInfo())}`);
    await until(() => {
      const f = c.replication!.fleetInfo();
      return f.consumer.applied + f.anti_entropy.repaired_in >= steadyReadings;
    }, 60_000, 'steady-state readings folded at c');
    const seconds = (performance.now() - began) / 1000;
    const steadyBytes = total() - steadyStart;
    const perNode = counters.map((c, i) => (c.up + c.down - perNodeStart[i]!) / steadyReadings);
    offB();
    lags.sort((x, y) => x - y);

    // --- catch-up ---
    await c.stop();
    nodes.splice(2, 1);
    const backlogStart = Date.now() - 3_600_000;
    for (let i = 0; i < options.backlog; i += 10_000) {
      await post(a, gateway, Array.from({ length: Math.min(10_000, options.backlog - i) }, (_, j) => reading('backlog', i + j, 1000, backlogStart)));
    }
    await until(() => a.replication!.fleetInfo().nodes[0]!.outbox_depth === 0, 120_000, 'backlog published');
    const started = performance.now();
    c = await startNode(dir, 'c', proxies[2]!.port);
    nodes.push(c);
    let folded = 0;
    let firstFold = 0;
    let lastFold = 0;
    c.replication!.onApplied((events) => {
      const now = performance.now();
      if (folded === 0) firstFold = now;
      folded += events.length;
      lastFold = now;
    });
    await until(() => folded >= options.backlog, 300_000, 'backlog folded at c');
    if (process.env.BENCH_DEBUG) console.log(JSON.stringify(c.replication!.fleetInfo()));
    return {
      steady: {
        readings: steadyReadings,
        seconds,
        rate: steadyReadings / seconds,
        lagP50: percentile(lags, 0.5),
        lagP99: percentile(lags, 0.99),
        lagMax: lags[lags.length - 1] ?? NaN,
        bytesPerReading: steadyBytes / steadyReadings,
        bytesPerReadingNet: (steadyBytes - idleBytesPerSecond * seconds) / steadyReadings,
        idleBytesPerSecond,
        /** Per reading, on the connection of a (publisher, and consumer of its own messages), b and c (consumers). */
        perNode,
        repairs: [a, b, c].reduce((sum, n) => sum + n.replication!.fleetInfo().anti_entropy.repaired_in, 0),
      },
      catchUp: {
        readings: options.backlog,
        foldRate: options.backlog / ((lastFold - firstFold) / 1000),
        fromStartRate: options.backlog / ((lastFold - started) / 1000),
        fromStartSeconds: (lastFold - started) / 1000,
      },
    };
  } finally {
    for (const n of nodes) await n.stop().catch(() => undefined);
    for (const p of proxies) p.server.close();
    nats.child.kill('SIGTERM');
    await new Promise((r) => nats.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const options = { backlog: arg(argv, 'backlog', 200_000), rate: arg(argv, 'rate', 1000), seconds: arg(argv, 'seconds', 20) };
  const r = await replicationBench(options);
  const s = r.steady;
  console.log(`steady state: ${s.readings} readings at ${Math.round(s.rate)}/s to node a (batches of ${Math.max(1, Math.round(options.rate / 100))} every 10 ms)`);
  console.log(`  lag (a answered 2xx -> b folded, durable): p50 ${s.lagP50.toFixed(1)} ms, p99 ${s.lagP99.toFixed(1)} ms, max ${s.lagMax.toFixed(1)} ms`);
  console.log(`  wire, 3 nodes (1 publisher, 2 consumers): ${s.bytesPerReading.toFixed(0)} B/reading; ${s.bytesPerReadingNet.toFixed(0)} B/reading without the idle traffic (${Math.round(s.idleBytesPerSecond)} B/s: heartbeats, pulls, anti-entropy)`);
  console.log(`  anti-entropy repairs during the run: ${s.repairs}`);
  console.log(`  per connection: a (publishes; receives its own back) ${s.perNode[0]!.toFixed(0)} B, b ${s.perNode[1]!.toFixed(0)} B, c ${s.perNode[2]!.toFixed(0)} B per reading`);
  const c = r.catchUp;
  console.log(`catch-up: ${c.readings} readings folded at ${Math.round(c.foldRate)} readings/s (first to last fold); ${Math.round(c.fromStartRate)} readings/s from node start (${c.fromStartSeconds.toFixed(1)} s)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
