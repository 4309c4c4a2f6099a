/**
 * `edgeagg status --url URL`: a running node at a glance, as `nats server info` or `spin` show theirs:
 * its module, readiness and circuit, reading rates (two samples of its counters), and the fleet.
 */
import type { Command } from 'commander';
import { integerArg } from './args.js';

interface StatusOptions {
  url: string;
  token?: string;
  interval: number;
  json?: boolean;
}

interface NodeInfo {
  node_id: string;
  ready: boolean;
  circuit: string;
  module: { name: string; version: string };
  uptime_s: number;
  counters: { accepted: number; duplicates: number; rejected: Record<string, number> };
}

interface FleetInfo {
  replication: string;
  nodes: Array<{ node_id: string; self: boolean; url: string | null; last_contact_age_ms: number; outbox_depth: number; replication_lag_ms: number | null; catching_up: boolean }>;
}

/** What `status` reports; `--json` prints exactly this. */
export interface NodeStatus {
  url: string;
  node_id: string;
  ready: boolean;
  readiness: Record<string, unknown>;
  circuit: string;
  module: string;
  uptime_s: number;
  totals: { accepted: number; duplicates: number; rejected: number };
  /** Per second, over the sampling interval. */
  rates: { accepted: number; duplicates: number; rejected: number };
  fleet: FleetInfo;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show a running node: module, readiness, circuit breaker, reading rates and its fleet')
    .option('--url <url>', 'the node', 'http://127.0.0.1:8787')
    .option('--token <token>', 'a read (or admin) token (env EDGEAGG_TOKEN)')
    .option('--interval <ms>', 'time between the two samples the rates are computed from', integerArg(1), 1000)
    .option('--json', 'print the status as JSON')
    .action(async (options: StatusOptions) => {
      const status = await nodeStatus(options.url, options.token ?? process.env.EDGEAGG_TOKEN, options.interval);
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      if (!status.ready) process.exitCode = 1;
    });
}

export async function nodeStatus(url: string, token: string | undefined, intervalMs: number): Promise<NodeStatus> {
  const base = url.replace(/\/+$/, '');
  const readiness = await getJson<Record<string, unknown>>(base, '/readyz', undefined, [200, 503]);
  const first = await getJson<NodeInfo>(base, '/v1/node', token);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, intervalMs));
  const [second, fleet] = await Promise.all([getJson<NodeInfo>(base, '/v1/node', token), getJson<FleetInfo>(base, '/v1/fleet', token)]);
  const seconds = (performance.now() - started) / 1000;
  const totals = (n: NodeInfo) => ({ accepted: n.counters.accepted, duplicates: n.counters.duplicates, rejected: Object.values(n.counters.rejected).reduce((a, b) => a + b, 0) });
  const a = totals(first);
  const b = totals(second);
  const rate = (x: number, y: number) => Math.round(((y - x) / seconds) * 10) / 10;
  return {
    url: base,
    node_id: second.node_id,
    ready: readiness.ready === true,
    readiness,
    circuit: second.circuit,
    module: `${second.module.name}@${second.module.version}`,
    uptime_s: second.uptime_s,
    totals: b,
    rates: { accepted: rate(a.accepted, b.accepted), duplicates: rate(a.duplicates, b.duplicates), rejected: rate(a.rejected, b.rejected) },
    fleet,
  };
}

export function formatStatus(s: NodeStatus): string {
  const lines = [
    `node      ${s.node_id} at ${s.url}`,
    `ready     ${s.ready ? 'yes' : `NO (${JSON.stringify(s.readiness)})`}`,
    `circuit   ${s.circuit}`,
    `module    ${s.module}`,
    `uptime    ${s.uptime_s} s`,
    `readings  ${s.rates.accepted}/s accepted, ${s.rates.duplicates}/s duplicates, ${s.rates.rejected}/s rejected` +
      ` (since start: ${s.totals.accepted} accepted, ${s.totals.duplicates} duplicates, ${s.totals.rejected} rejected)`,
    `fleet     ${s.fleet.replication === 'off' ? 'alone (no replication)' : `${s.fleet.nodes.length} nodes over ${s.fleet.replication}`}`,
  ];
  if (s.fleet.replication !== 'off') {
    for (const n of s.fleet.nodes) {
      const lag = n.replication_lag_ms === null ? '-' : `${Math.round(n.replication_lag_ms / 100) / 10} s`;
      lines.push(`  ${n.self ? '*' : ' '} ${n.node_id.padEnd(24)} contact ${Math.round(n.last_contact_age_ms / 1000)} s ago, outbox ${n.outbox_depth}, lag ${lag}${n.catching_up ? ', catching up' : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function getJson<T>(base: string, path: string, token: string | undefined, ok: number[] = [200]): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    throw new Error(`cannot reach the node at ${base}: ${reason}`, { cause: error });
  }
  if (res.status === 401 || res.status === 403) {
    throw new Error(`GET ${path} answered ${res.status}: pass a read token with --token (or EDGEAGG_TOKEN); create one with \`edgeagg token create --read\``);
  }
  if (!ok.includes(res.status)) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}
