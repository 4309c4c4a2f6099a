/**
 * Flash wear at the rates gateways really see (issue 17): a real node process with default settings,
 * driven open loop with single readings from 500 devices (each on its own connection, opened before the
 * run) at 20, 200 and 2,000 readings/s, and closed loop with batches of 100. For each: bytes the node
 * process wrote to disk per reading (`write_bytes` of /proc/PID/io, which counts a page when it becomes
 * dirty, and a direct write as its size: what reaches the flash, before the file system's own journal), and
 * the acknowledgement latency. An open-loop latency runs from the moment the request was due, so a node
 * that falls behind is not excused by sending less.
 *
 *   npm run build && node dist/bench/write-amplification.js [--quick] [--flags="--commit-window-ms 0"]
 *
 * Arrivals are a Poisson process (500 devices that report independently), from a fixed seed. "with final
 * checkpoint" adds what the node writes when it stops: the last commit of what it holds and the checkpoint of
 * the WAL left at the end, so a setting that only postpones writes is not counted as saving them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken, readNodeKey } from '../src/auth/tokens.js';
import { CLI, launcherFlags, NO_CLIENT_LIMITS, startListening } from './server-process.js';

const DEVICES = 500;

export interface FlashWorkload {
  name: string;
  /** Readings per second, open loop; undefined: closed loop with `connections`. */
  rate?: number;
  batch: number;
  connections?: number;
  seconds: number;
}

export interface FlashResult {
  workload: string;
  readings: number;
  bytesPerReading: number;
  /** Including the checkpoint the node made when it stopped. */
  bytesPerReadingWithCheckpoint: number;
  p50: number;
  p99: number;
  max: number;
  failed: number;
  readingsPerSecond: number;
}

export const FLASH_WORKLOADS: FlashWorkload[] = [
  { name: '20 readings/s', rate: 20, batch: 1, seconds: 40 },
  { name: '200 readings/s', rate: 200, batch: 1, seconds: 20 },
  { name: '2,000 readings/s', rate: 2000, batch: 1, seconds: 15 },
  { name: 'batches of 100, 16 connections', batch: 100, connections: 16, seconds: 10 },
  // Throughput: a window must not slow down clients that wait for each answer before the next request.
  { name: 'single readings, 16 connections', batch: 1, connections: 16, seconds: 10 },
];

function writeBytes(pid: number): number {
  return Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

/** A small fixed-seed generator, so every run offers the same arrivals. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

class Client {
  private counter = 0;
  /** Each device's last timestamp: a device never sends two readings stamped with the same millisecond. */
  private readonly last = new Float64Array(DEVICES);
  /** Open loop: each device on its own keep-alive connection, as devices are. */
  private devices = Array.from({ length: DEVICES }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  constructor(
    private readonly url: URL,
    private readonly token: string,
  ) {}

  /** The connection of the device of the next reading. */
  private get agent(): Agent {
    return this.devices[this.counter % DEVICES]!;
  }

  private body(batch: number): string {
    const items = [];
    // Stamped when sent, as a device does: the readings reach the log nearly in time order.
    const now = Date.now();
    for (let i = 0; i < batch; i++) {
      const n = this.counter++;
      const device = n % DEVICES;
      const timestamp = (this.last[device] = Math.max(now, this.last[device]! + 1));
      items.push({ device_id: `dev-${device}`, region: `r${device % 10}`, temperature_c: (n % 400) / 10, timestamp });
    }
    return JSON.stringify(batch === 1 ? items[0] : items);
  }

  /** Sends the next `batch` readings: from their device's connection, or on `agent` (a closed-loop client's). Resolves with true for a 2xx. */
  send(batch: number, agent?: Agent): Promise<boolean> {
    const via = agent ?? this.agent;
    return this.post(this.body(batch), via);
  }

  private post(body: string, agent: Agent): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        { host: this.url.hostname, port: this.url.port, path: '/v1/readings', method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode! >= 200 && res.statusCode! < 300));
        },
      );
      req.on('error', () => resolve(false));
      req.end(body);
    });
  }

  /** Closes the devices' connections. */
  close(): void {
    for (const agent of this.devices) agent.destroy();
    this.devices = this.devices.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function drive(client: Client, w: FlashWorkload): Promise<{ latencies: number[]; ok: number; failed: number; seconds: number }> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const end = started + w.seconds * 1000;
  const record = (due: number, good: boolean): void => {
    latencies.push(performance.now() - due);
    if (good) ok++;
    else failed++;
  };
  if (w.rate === undefined) {
    // Each connection is a client that waits for each answer before it sends again, on its own socket.
    const loop = async (): Promise<void> => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        while (performance.now() < end) {
          const due = performance.now();
          record(due, await client.send(w.batch, agent));
        }
      } finally {
        agent.destroy();
      }
    };
    await Promise.all(Array.from({ length: w.connections ?? 16 }, loop));
  } else {
    const next = random(17);
    const inFlight: Promise<void>[] = [];
    let due = started;
    while (due < end) {
      due += (-Math.log(1 - next()) * 1000) / w.rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const at = due;
      inFlight.push(client.send(w.batch).then((good) => record(at, good)));
    }
    await Promise.all(inFlight);
  }
  return { latencies, ok, failed, seconds: (performance.now() - started) / 1000 };
}

/** One workload against a fresh node started with `flags` (after the defaults). */
export async function flashRun(w: FlashWorkload, flags: string[] = []): Promise<FlashResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeagg-flash-'));
  try {
    const server = await startListening([...launcherFlags(), CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...NO_CLIENT_LIMITS, ...flags]);
    const pid = server.child.pid!;
    const client = new Client(new URL(server.url), await issueToken(readNodeKey(dataDir), { scope: 'gateway' }));
    let stopped = false;
    try {
      // Every device and region exists before the count starts: the steady state, not the first hour.
      for (let i = 0; i < 2 * DEVICES; i += 100) await client.send(100);
      // Every device's connection is open too, as a gateway's devices keep theirs: 500 devices connecting in the
      // run's first second would measure a reconnection storm, not the acknowledgements of a steady rate.
      await Promise.all(Array.from({ length: DEVICES }, () => client.send(1)));
      await new Promise((r) => setTimeout(r, 500));
      const before = writeBytes(pid);
      const run = await drive(client, w);
      const during = writeBytes(pid) - before;
      // The node stops: its last checkpoint is counted up to the last reading of /proc before it exits.
      const exited = new Promise((r) => server.child.once('exit', r));
      let last = writeBytes(pid);
      server.child.kill('SIGTERM');
      stopped = true;
      for (let i = 0; i < 2000 && server.child.exitCode === null; i++) {
        try {
          last = writeBytes(pid);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await exited;
      const readings = run.ok * w.batch;
      const sorted = run.latencies.sort((a, b) => a - b);
      return {
        workload: w.name,
        readings,
        bytesPerReading: during / readings,
        bytesPerReadingWithCheckpoint: (last - before) / readings,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1] ?? NaN,
        failed: run.failed,
        readingsPerSecond: readings / run.seconds,
      };
    } finally {
      client.close();
      if (!stopped) await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatFlash(r: FlashResult): string {
  return (
    `${r.workload.padEnd(32)} ${r.bytesPerReading.toFixed(0).padStart(6)} B/reading (${r.bytesPerReadingWithCheckpoint.toFixed(0)} with final checkpoint), ` +
    `ack p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms, ${r.readingsPerSecond.toFixed(0)} readings/s, failed ${r.failed}`
  );
}

/** Every workload, each against its own fresh node. */
export async function writeAmplificationBench(quick: boolean, flags: string[] = [], workloads = FLASH_WORKLOADS): Promise<string[]> {
  const lines: string[] = [];
  for (const w of workloads) {
    const r = await flashRun(quick ? { ...w, seconds: Math.ceil(w.seconds / 3) } : w, flags);
    lines.push(formatFlash(r));
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = process.argv.find((a) => a.startsWith('--flags='))?.slice('--flags='.length).split(' ').filter(Boolean) ?? [];
  // --workload=N: only the N-th workload (0-based), to compare settings alternately.
  const pick = process.argv.find((a) => a.startsWith('--workload='))?.slice('--workload='.length);
  const workloads = pick === undefined ? FLASH_WORKLOADS : pick.split(',').map((i) => FLASH_WORKLOADS[Number(i)]!);
  for (const line of await writeAmplificationBench(process.argv.includes('--quick'), flags, workloads)) console.log(line);
}
