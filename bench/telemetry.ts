/**
 * The cost of telemetry on throughput: the same node and load with telemetry off
 * (`OTEL_SDK_DISABLED=true`), with metrics only (the default: Prometheus scraped every second, more
 * often than a real scrape), and with metrics plus traces sampled at 10% and at 100% exported over
 * OTLP to a sink in its own process. One node process per run; autocannon in this process over
 * loopback; the configurations interleaved, their order rotated each round, so that drift and the
 * noise of a shared machine fall on all of them alike. Reports medians and the spread, of throughput
 * and of the node process's CPU time per request (from /proc: far less sensitive than throughput to
 * other jobs on the machine, since it does not count the time the node waited for a core).
 *
 * With `--rate W,R` the load is open-loop instead: W writes and R reads per second offered (below
 * capacity), so the node is never saturated and its CPU time per request is measured with less of the
 * contention that makes saturated runs on a shared machine noisy.
 *
 *   npm run build && node dist/bench/telemetry.js [--rounds 5] [--seconds 6] [--rate 6000,8000] [--paired] [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import autocannon from 'autocannon';
import { issueToken, readNodeKey } from '../src/auth/tokens.js';
import { load } from './durability.js';
import { cpuSeconds, withNode } from './server-process.js';


interface Config {
  name: string;
  env: (sink: string) => Record<string, string>;
  scrape: boolean;
}

const CONFIGS: Config[] = [
  { name: 'off (OTEL_SDK_DISABLED=true)', env: () => ({ OTEL_SDK_DISABLED: 'true' }), scrape: false },
  { name: 'metrics (default), scraped every 1 s', env: () => ({}), scrape: true },
  {
    name: 'metrics + traces 10% over OTLP',
    env: (sink) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', OTEL_METRIC_EXPORT_INTERVAL: '5000' }),
    scrape: true,
  },
  {
    name: 'metrics + traces 100% over OTLP',
    env: (sink) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER: 'always_on', OTEL_METRIC_EXPORT_INTERVAL: '5000' }),
    scrape: true,
  },
];

interface Sample {
  writeRps: number;
  writeP99: number;
  /** The node's CPU time (user + system) per request, µs. */
  writeCpuUs: number;
  readRps: number;
  readP99: number;
  readCpuUs: number;
}

/** An OTLP/HTTP sink in its own process: answers 200 to everything, counts bytes. */
async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const script = `
    const http = require('node:http');
    const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); }); });
    s.listen(0, '127.0.0.1', () => console.log('sink ' + s.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(/sink (\d+)/.exec(d.toString())![1]))));
  return { url: `http://127.0.0.1:${port}`, child };
}

async function withTelemetryNode<T>(env: Record<string, string>, fn: (url: string, token: string, readToken: string, pid: number) => Promise<T>): Promise<T> {
  return withNode({ env }, async (node) => {
    const key = readNodeKey(node.dataDir);
    return fn(node.url, await issueToken(key, { scope: 'gateway' }), await issueToken(key, { scope: 'read' }), node.pid);
  });
}

async function reads(url: string, token: string, seconds: number, overallRate?: number): Promise<{ rps: number; p99: number; requests: number }> {
  const r = await autocannon({ url: `${url}/v1/regions/r1`, connections: 32, duration: seconds, overallRate, headers: { authorization: `Bearer ${token}` } });
  return { rps: (r.requests.total - r.non2xx) / seconds, p99: r.latency.p99, requests: r.requests.total };
}

async function run(config: Config, sink: string, seconds: number, rate: [number, number] | undefined): Promise<Sample> {
  return withTelemetryNode(config.env(sink), async (url, token, readToken, pid) => {
    let scraping = config.scrape;
    const scraper = (async () => {
      while (scraping) {
        await fetch(`${url}/metrics`).then((r) => r.arrayBuffer()).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();
    try {
      await load(url, token, 1, 1, 64); // warm-up (JIT, SQLite cache)
      let cpu = cpuSeconds(pid);
      const w = await load(url, token, 1, seconds, 64, rate?.[0]);
      const writeCpu = cpuSeconds(pid) - cpu;
      cpu = cpuSeconds(pid);
      const r = await reads(url, readToken, seconds, rate?.[1]);
      const readCpu = cpuSeconds(pid) - cpu;
      return {
        writeRps: w.rps,
        writeP99: w.p99,
        writeCpuUs: (writeCpu * 1e6) / (w.rps * seconds + w.non2xx),
        readRps: r.rps,
        readP99: r.p99,
        readCpuUs: (readCpu * 1e6) / r.requests,
      };
    } finally {
      scraping = false;
      await scraper;
    }
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function telemetryBench(options: {
  rounds: number;
  seconds: number;
  rate?: [number, number];
  /** Run each configuration at the same time as an "off" node, each under its own load (see below). */
  paired?: boolean;
  log?: (line: string) => void;
}): Promise<string[]> {
  const log = options.log ?? (() => {});
  const sink = await startSink();
  const samples = new Map<string, Sample[]>(CONFIGS.map((c) => [c.name, []]));
  // The "off" sample each configuration's sample is compared with, in the same order.
  const offFor = new Map<string, Sample[]>(CONFIGS.map((c) => [c.name, []]));
  const say = (round: number, name: string, s: Sample): void =>
    log(`round ${round + 1}/${options.rounds} ${name}: writes ${s.writeRps.toFixed(0)} req/s (p99 ${s.writeP99} ms, ${s.writeCpuUs.toFixed(1)} µs CPU/req), reads ${s.readRps.toFixed(0)} req/s (p99 ${s.readP99} ms, ${s.readCpuUs.toFixed(1)} µs CPU/req)`);
  try {
    for (let round = 0; round < options.rounds; round++) {
      if (options.paired) {
        // Paired: this machine's speed drifts by 20-40% over minutes, more than the effect measured; a
        // configuration and "off" loaded at the same moment see the same machine, and CPU time per request
        // (not throughput, which the two share) compares them.
        for (const config of CONFIGS.slice(1)) {
          const [o, s] = await Promise.all([run(CONFIGS[0]!, sink.url, options.seconds, options.rate), run(config, sink.url, options.seconds, options.rate)]);
          samples.get(CONFIGS[0]!.name)!.push(o);
          samples.get(config.name)!.push(s);
          offFor.get(config.name)!.push(o);
          say(round, `${config.name} (with off alongside: ${o.writeCpuUs.toFixed(1)} / ${o.readCpuUs.toFixed(1)} µs CPU/req)`, s);
        }
        continue;
      }
      // Rotate the order so that no configuration always runs first (or last) in a round.
      const order = CONFIGS.map((_c, i) => CONFIGS[(i + round) % CONFIGS.length]!);
      const inRound: Sample[] = []; // by configuration index
      for (const config of order) {
        const s = await run(config, sink.url, options.seconds, options.rate);
        samples.get(config.name)!.push(s);
        inRound[CONFIGS.indexOf(config)] = s;
        say(round, config.name, s);
      }
      for (const config of CONFIGS) offFor.get(config.name)!.push(inRound[0]!);
    }
  } finally {
    sink.child.kill();
  }
  const range = (xs: number[], digits = 0): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const lines = [
    `${options.rounds} rounds x ${options.seconds} s per workload; writes: 1 reading per POST, 64 connections; reads: GET /v1/regions/{region}, 32 connections; ` +
      (options.rate ? `open loop: ${options.rate[0]} writes/s, ${options.rate[1]} reads/s offered` : 'closed loop (as fast as the node answers)'),
    options.paired
      ? 'Medians (min–max); "vs off": the median of the ratios to the "off" node loaded at the same time (paired runs).'
      : 'Medians (min–max); "vs off": the median over rounds of the ratio to the same round\'s "off" run.',
    '| Telemetry | Writes req/s | vs off | Write CPU µs/req | vs off | Reads req/s | vs off | Read CPU µs/req | vs off | p99 write / read ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const config of CONFIGS) {
    const xs = samples.get(config.name)!;
    // Paired per round: each round's ratio to that round's "off" run, then the median of the ratios.
    const off = offFor.get(config.name)!;
    const vs = (pick: (s: Sample) => number): string => (config === CONFIGS[0] ? '—' : `${((median(xs.map((s, i) => pick(s) / pick(off[i]!))) - 1) * 100).toFixed(1)}%`);
    lines.push(
      `| ${config.name} | ${range(xs.map((s) => s.writeRps))} | ${vs((s) => s.writeRps)} | ${range(xs.map((s) => s.writeCpuUs), 1)} | ${vs((s) => s.writeCpuUs)} | ` +
        `${range(xs.map((s) => s.readRps))} | ${vs((s) => s.readRps)} | ${range(xs.map((s) => s.readCpuUs), 1)} | ${vs((s) => s.readCpuUs)} | ` +
        `${median(xs.map((s) => s.writeP99))} / ${median(xs.map((s) => s.readP99))} |`,
    );
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const quick = process.argv.includes('--quick');
  console.log(`# telemetry overhead ${new Date().toISOString()}; node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const i = process.argv.indexOf('--rate');
  const rate = i >= 0 ? (process.argv[i + 1]!.split(',').map(Number) as [number, number]) : undefined;
  const paired = process.argv.includes('--paired');
  for (const line of await telemetryBench({ rounds: arg('rounds', quick ? 1 : 5), seconds: arg('seconds', quick ? 2 : 6), rate, paired, log: (l) => console.error(l) })) console.log(line);
}
