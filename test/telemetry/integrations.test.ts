/**
 * What Prometheus and Grafana users import, checked for real: the alert rules pass `promtool check rules`
 * and evaluate without error in a real Prometheus scraping a real node; every query of the Grafana
 * dashboard runs against that Prometheus, and the main ones return data once readings flow.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { PrometheusServer } from './helpers/servers.js';

const RULES = join(ROOT, 'deploy/prometheus/edge-aggregator.rules.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/edge-aggregator.json');

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

/** Every query of the dashboard, with Grafana's variables as Grafana would fill them in. */
function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*') })),
  );
}

describe('promtool check rules', () => {
  const promtool = requireBinary('promtool');

  it('accepts the shipped alert rules', () => {
    const out = execFileSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('would refuse a broken rule (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeagg-rules-'));
    try {
      const broken = join(dir, 'broken.yml');
      writeFileSync(broken, readFileSync(RULES, 'utf8').replace('== 1', '== == 1'));
      expect(() => execFileSync(promtool, ['check', 'rules', broken], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the dashboard and the rules against a real Prometheus scraping a real node', () => {
  let node: NodeProcess;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    node = await NodeProcess.start();
    prometheus = await PrometheusServer.start({ target: new URL(node.url).host, ruleFiles: [RULES] });
    const token = await node.token('gateway');
    const now = Date.now();
    // Readings over a few scrapes, so rates have two samples; one rejected reading for the rejected series.
    for (let round = 0; round < 4; round++) {
      const readings = Array.from({ length: 50 }, (_, i) => ({ device_id: `graf-${i}`, region: `r-${i % 3}`, temperature_c: 20 + i / 10, timestamp: now - 120_000 + round * 1_000 + i }));
      const res = await node.postReadings([...readings, { device_id: 'bad', region: 'r-0', temperature_c: 'hot', timestamp: now }], token);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 1_200));
    }
  });

  afterAll(async () => {
    await prometheus?.stop();
    await node?.stop();
    node?.cleanup();
  });

  it('evaluates every alert rule without error', async () => {
    await until(
      async () => {
        const rules = await prometheus.rules();
        return rules.length > 0 && rules.every((r) => r.lastEvaluation !== '0001-01-01T00:00:00Z');
      },
      { timeoutMs: 30_000, intervalMs: 500, message: 'the rules were evaluated' },
    );
    const rules = await prometheus.rules();
    expect(rules.map((r) => r.name).sort()).toEqual(
      [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]).sort(),
    );
    for (const rule of rules) expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', error: '' });
    // Nothing is wrong with this node: no alert fires.
    expect(rules.filter((r) => r.state === 'firing').map((r) => r.name)).toEqual([]);
  });

  it('runs every dashboard query, and the main panels show data', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(15);
    for (const q of queries) await expect(prometheus.query(q.expr), `${q.panel}: ${q.expr}`).resolves.toBeDefined();
    const withData = ['Readings accepted / s', 'Readings rejected / s', 'Database size', 'Disk free', 'Requests / s by route and status', 'Readings by outcome', 'Process: memory'];
    for (const title of withData) {
      const q = queries.find((x) => x.panel === title)!;
      await until(async () => (await prometheus.query(q.expr)).length > 0, { timeoutMs: 30_000, intervalMs: 500, message: `${title} has data: ${q.expr}` });
    }
  });
});
