/**
 * Real servers for the telemetry tests, on loopback, each in its own temporary directory and stopped
 * by the test: Debian's Prometheus, and a small OTLP/HTTP receiver that decodes what it is sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../helpers/binaries.js';
import { until } from '../../helpers/poll.js';
import { freePort } from '../../helpers/ports.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface ScrapeTarget {
  /** `host:port` of the node. */
  target: string;
  /** A bearer token Prometheus sends. */
  bearerToken?: string;
  /** Rule files (alerting or recording) Prometheus loads and evaluates every second. */
  ruleFiles?: string[];
}

/** A rule as `/api/v1/rules` reports it. */
export interface RuleStatus {
  name: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
  /** Alerting rules: `inactive`, `pending` or `firing`. */
  state?: string;
}

/** A real Prometheus scraping one target every second. */
export class PrometheusServer {
  log = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static async start(target: ScrapeTarget): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'edgeagg-prometheus-'));
    const auth = target.bearerToken ? `    authorization:\n      type: Bearer\n      credentials: ${JSON.stringify(target.bearerToken)}\n` : '';
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        ...(target.ruleFiles?.length ? ['rule_files:', ...target.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
        'scrape_configs:',
        '  - job_name: edgeagg',
        '    metrics_path: /metrics',
        auth.trimEnd(),
        '    static_configs:',
        `      - targets: [${JSON.stringify(target.target)}]`,
        '',
      ]
        .filter((l) => l !== '')
        .join('\n'),
    );
    const port = await freePort();
    const child = spawn(
      requireBinary(PROMETHEUS_BIN),
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(child, dir, `http://127.0.0.1:${port}`);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (server.log += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (server.log += d));
    try {
      await until(
        async () => {
          if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${server.log}`);
          return (await fetch(`${server.url}/-/ready`)).ok;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: 'Prometheus was not ready' },
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** An instant query (`/api/v1/query`): the vector's samples as { labels, value }. */
  async query(promql: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  }

  /** Every rule of every loaded group, with its health and last evaluation. */
  async rules(): Promise<RuleStatus[]> {
    const res = await fetch(`${this.url}/api/v1/rules`);
    const body = (await res.json()) as { status: string; data: { groups: Array<{ rules: RuleStatus[] }> } };
    if (body.status !== 'success') throw new Error('GET /api/v1/rules failed');
    return body.data.groups.flatMap((g) => g.rules);
  }

  /** The value of a query that yields one sample (e.g. a `sum(...)`); undefined when it yields none. */
  async scalar(promql: string): Promise<number | undefined> {
    const result = await this.query(promql);
    return result[0]?.value;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One OTLP/HTTP request as received: its path, content type and decoded JSON body. */
export interface OtlpRequest {
  path: string;
  contentType: string;
  body: unknown;
}

/** A small OTLP/HTTP collector: takes `/v1/traces` and `/v1/metrics` JSON exports and keeps them decoded. */
export class OtlpReceiver {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly requests: OtlpRequest[],
  ) {}

  /** Listens on `port` (0: any free one). */
  static async start(port = 0): Promise<OtlpReceiver> {
    const requests: OtlpRequest[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = req.headers['content-type'] ?? '';
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // Not JSON: an exporter speaking protobuf. Kept undecoded so the test fails clearly.
          body = undefined;
        }
        requests.push({ path: req.url ?? '', contentType, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return new OtlpReceiver(server, (server.address() as AddressInfo).port, requests);
  }

  /** Every span received, flattened with its resource attributes. */
  spans(): OtlpSpan[] {
    const out: OtlpSpan[] = [];
    for (const r of this.requests.filter((q) => q.path === '/v1/traces')) {
      const body = r.body as { resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: RawSpan[] }> }> };
      for (const rs of body?.resourceSpans ?? []) {
        const resource = attributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            out.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, kind: s.kind, attributes: attributes(s.attributes), status: s.status?.code ?? 0, resource });
          }
        }
      }
    }
    return out;
  }

  /** The data points of a metric in the latest metrics export that has it. */
  latestPoints(name: string): Array<{ attributes: Record<string, unknown>; value: number; count?: number; sum?: number; resource: Record<string, unknown> }> {
    const exports = this.requests.filter((q) => q.path === '/v1/metrics');
    for (let i = exports.length - 1; i >= 0; i--) {
      const body = exports[i]!.body as { resourceMetrics?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeMetrics?: Array<{ metrics?: RawMetric[] }> }> };
      for (const rm of body?.resourceMetrics ?? []) {
        const resource = attributes(rm.resource?.attributes);
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) {
            if (m.name !== name) continue;
            const points = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.histogram?.dataPoints ?? [];
            return points.map((p) => ({
              attributes: attributes(p.attributes),
              value: Number(p.asDouble ?? p.asInt ?? 0),
              count: p.count === undefined ? undefined : Number(p.count),
              sum: p.sum,
              resource,
            }));
          }
        }
      }
    }
    return [];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
}

interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code?: number };
}

interface RawPoint {
  attributes?: OtlpAttribute[];
  asDouble?: number;
  asInt?: number | string;
  count?: number | string;
  sum?: number;
}

interface RawMetric {
  name: string;
  sum?: { dataPoints: RawPoint[] };
  gauge?: { dataPoints: RawPoint[] };
  histogram?: { dataPoints: RawPoint[] };
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: number;
  resource: Record<string, unknown>;
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
  }
  return out;
}
