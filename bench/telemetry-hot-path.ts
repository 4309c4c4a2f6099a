/**
 * The CPU that telemetry adds to one request, measured in-process: the exact hooks the server, the
 * write path and the runtime call for a write request (in commit groups of 32, as under load) and
 * for a read, with the real OpenTelemetry SDK, minus the same loop with hooks that do nothing (what a
 * node with OTEL_SDK_DISABLED=true runs). Repeatable where end-to-end runs on a shared machine are
 * not (bench/telemetry.ts); divide by a request's CPU time to get the share.
 *
 *   npm run build && node dist/bench/telemetry-hot-path.js
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Telemetry, type Logger } from '../src/telemetry/index.js';
import { aggregatorCounterMapper } from '../src/apps/index.js';

const GROUP = 32;
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const aggregator = { name: 'aggregator', version: '0.1.0' };
const call = { module: 'aggregator', version: '0.1.0', durationMs: 0.05, memoryBytes: 65536, memoryLimitBytes: 1 << 24 };
// The runtime makes its reports whether or not anyone listens: not part of telemetry's cost.
const httpCall = { ...call, trigger: 'http' };
const foldCall = { ...call, trigger: 'events' };
// Nothing listens there: sampled spans are made and serialized, their sending fails off the measured loop.
const SINK = 'http://127.0.0.1:9';

const CONFIGS: Array<[string, NodeJS.ProcessEnv]> = [
  ['metrics (default)', {}],
  ['metrics, Prometheus + OTLP readers', { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${SINK}/v1/metrics` }],
  ['metrics + tracing on, nothing sampled', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${SINK}/v1/traces`, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }],
  ['metrics + tracing 10%', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${SINK}/v1/traces`, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', OTEL_BSP_MAX_QUEUE_SIZE: '100000000' }],
  ['metrics + tracing 100%', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${SINK}/v1/traces`, OTEL_TRACES_SAMPLER: 'always_on', OTEL_BSP_MAX_QUEUE_SIZE: '100000000' }],
];

interface Harness {
  write(): void;
  read(): void;
  telemetry: Telemetry | undefined;
}

type Hooks = Pick<Telemetry, 'onCall' | 'onMetric'> & {
  server: NonNullable<Telemetry['requestObserver']>;
  pipeline: NonNullable<Telemetry['pipelineObserver']>;
};

/** What the node runs with telemetry disabled: hooks that do nothing. */
const NO_HOOKS: Hooks = {
  server: { begin: () => undefined, route: () => {}, run: (_s, fn) => fn() },
  pipeline: { job: (_t, fn) => fn(), execute: (_t, fn) => fn(), group: () => {} },
  onCall: () => {},
  onMetric: () => {},
};

function hooksOf(t: Telemetry): Hooks {
  return { server: t.requestObserver!, pipeline: t.pipelineObserver!, onCall: t.onCall, onMetric: t.onMetric };
}

function harness(t: Telemetry | undefined): Harness {
  const { server, pipeline, onCall, onMetric } = t ? hooksOf(t) : NO_HOOKS;
  const closes: Array<[() => void, ServerResponse]> = [];
  const fake = (method: string, url: string): { req: IncomingMessage; res: ServerResponse } => {
    const req = { headers: {}, method, url, httpVersion: '1.1', socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    const res = { setHeader: () => res, on: (_e: string, fn: () => void) => closes.push([fn, res]), headersSent: true, statusCode: 200, writableFinished: true, req } as unknown as ServerResponse;
    return { req, res };
  };
  const closeAll = (): void => {
    for (const [fn, res] of closes) fn.call(res);
    closes.length = 0;
  };
  const post = fake('POST', '/v1/readings');
  const get = fake('GET', '/v1/regions/eu-west');
  return {
    telemetry: t,
    write() {
      const scopes: unknown[] = [];
      for (let i = 0; i < GROUP; i++) {
        const scope = server.begin(post.req, post.res);
        server.route(scope, '/v1/readings');
        scopes.push(scope);
      }
      pipeline.execute(scopes, () => {
        for (const scope of scopes) {
          pipeline.job(scope, () => {
            onMetric(aggregator, 'readings_accepted', 1);
            onCall(httpCall);
          });
        }
        onCall(foldCall);
      });
      pipeline.group({ size: GROUP, durationMs: 2, failed: false, committed: true }, scopes);
      closeAll();
    },
    read() {
      const scope = server.begin(get.req, get.res);
      server.route(scope, '/v1/regions/{region}');
      server.run(scope, () => onCall(httpCall));
      closeAll();
    },
  };
}

/** µs of CPU per request. */
function measure(fn: () => void, requestsPerCall: number, calls: number): number {
  for (let i = 0; i < Math.max(200, calls / 5); i++) fn(); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (calls * requestsPerCall);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function telemetryHotPath(): Promise<string[]> {
  const rounds = 7;
  const run = (h: Harness, heavy: boolean): { write: number; read: number } => {
    const writes: number[] = [];
    const reads: number[] = [];
    for (let r = 0; r < rounds; r++) {
      writes.push(measure(() => h.write(), GROUP, heavy ? 300 : 3_000));
      reads.push(measure(() => h.read(), 1, heavy ? 20_000 : 200_000));
    }
    return { write: median(writes), read: median(reads) };
  };
  const base = run(harness(undefined), false);
  const lines = [
    `Baseline (hooks that do nothing, the loop itself): ${base.write.toFixed(2)} µs per write, ${base.read.toFixed(2)} µs per read; medians of ${rounds} runs, baseline subtracted:`,
    '| Telemetry | CPU added per write request (groups of 32) | CPU added per read request |',
    '|---|---|---|',
  ];
  for (const [name, env] of CONFIGS) {
    const t = new Telemetry({ logger: quiet, nodeId: 'bench', serviceVersion: '0.1.0', env, guestCounters: [aggregatorCounterMapper] });
    const r = run(harness(t), name.includes('%'));
    lines.push(`| ${name} | ${(r.write - base.write).toFixed(2)} µs | ${(r.read - base.read).toFixed(2)} µs |`);
    await Promise.race([t.shutdown(), new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`# telemetry hot path ${new Date().toISOString()}; node ${process.version}`);
  for (const line of await telemetryHotPath()) console.log(line);
  process.exit(0);
}
