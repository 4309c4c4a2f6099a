/**
 * The sensor-fleet simulator against real node processes: its faults really happen (the node's
 * answers show them), every distinct reading is still counted once (the final check passes), and a
 * run ends by itself, within its duration plus its drain, even when the node goes away.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_FAULTS, startSimulator, type SimulatorSummary } from '../../src/simulator/index.js';
import { useNodeProcess } from '../helpers/node-for-file.js';
import { NodeProcess } from '../helpers/node-process.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

async function nodeRegions(): Promise<Map<string, { count: number; sum: number; min: number; max: number }>> {
  const res = await node.fetch('/v1/regions', { token: await node.token('read') });
  const body = (await res.json()) as { regions: Array<{ region: string; count: number; sum: number; min: number; max: number }> };
  return new Map(body.regions.map((r) => [r.region, r]));
}

describe('a fleet with every fault', () => {
  let summary: SimulatorSummary;
  let tookMs: number;

  beforeAll(async () => {
    const started = Date.now();
    const sim = startSimulator({
      url: node.url,
      dataDir: node.dataDir,
      devices: 12,
      regions: ['faulty-a', 'faulty-b', 'faulty-c'],
      rate: 300,
      durationS: 3,
      batch: 25,
      lingerMs: 300,
      seed: 42,
      faults: {
        retryShare: 0.25,
        outOfOrderShare: 0.1,
        lateShare: 0.05,
        lateMaxMs: 1_500,
        burstShare: 0.2,
        burstMs: 200,
        offlineShare: 0.2,
        offlineMeanMs: 800,
        malformedShare: 0.05,
      },
    });
    summary = await sim.done;
    tookMs = Date.now() - started;
  });

  it('passes its final check: each distinct reading the node acknowledged is counted once', async () => {
    expect(summary.check.status, summary.check.reason).toBe('pass');
    expect(summary.passed).toBe(true);
    expect(summary.stats.inDoubt).toBe(0);
    // Independently of the simulator's own check: the node holds exactly the acknowledged readings.
    const regions = await nodeRegions();
    for (const c of summary.check.regions) {
      expect(c.acknowledged).toBeGreaterThan(0);
      expect(regions.get(c.region)?.count).toBe(c.acknowledged);
    }
  });

  it('uses one device token per sensor', () => {
    expect(summary.run.tokens).toBe('device');
    expect(summary.stats.errors).toBe(0);
  });

  it('resends batches whose answer was lost, and the node answers duplicate', () => {
    expect(summary.stats.lostAnswers).toBeGreaterThan(0);
    expect(summary.stats.duplicates).toBeGreaterThan(0);
  });

  it('sends malformed readings, and the node rejects each with its documented code', () => {
    const { faults, observed, rejectedByCode } = summary.stats;
    expect(faults.malformed).toBeGreaterThan(0);
    expect(observed.malformedAccepted).toBe(0);
    expect(observed.malformedOtherCode).toBe(0);
    expect(observed.malformedRejected).toBeGreaterThan(0);
    // Resent batches can carry a malformed reading twice, so answers are at least the readings.
    expect(observed.malformedRejected).toBeGreaterThanOrEqual(faults.malformed);
    expect(Object.keys(rejectedByCode).length).toBeGreaterThanOrEqual(4);
    expect(observed.validRejected).toEqual({});
  });

  it('delivers out of order, late and after offline spells, and the node accepts those readings', () => {
    const { faults, observed } = summary.stats;
    expect(faults.outOfOrder).toBeGreaterThan(0);
    expect(faults.late).toBeGreaterThan(0);
    expect(faults.offlinePeriods).toBeGreaterThan(0);
    expect(faults.backlog).toBeGreaterThan(0);
    expect(faults.bursts).toBeGreaterThan(0);
    expect(observed.outOfOrderAccepted).toBeGreaterThan(0);
    expect(observed.lateAccepted).toBeGreaterThan(0);
    expect(observed.maxLatenessMs).toBeGreaterThan(500);
  });

  it('stops by itself after its duration', () => {
    expect(summary.stats.elapsedMs).toBeGreaterThanOrEqual(3_000);
    expect(tookMs).toBeLessThan(3_000 + 5_000);
    expect(summary.stats.queued).toBe(0);
    expect(summary.stats.generated).toBe(summary.stats.sent);
  });
});

/**
 * A link that fails: some requests get a 503 before reaching the node, some reach it and their
 * answer is cut off (the connection is destroyed after the node answered).
 */
function flakyProxy(target: string): Promise<{ server: Server; url: string; stats: { unavailable: number; cut: number } }> {
  const stats = { unavailable: 0, cut: 0 };
  let posts = 0;
  const server = createServer((req, res) => {
    const isPost = req.method === 'POST';
    const n = isPost ? ++posts : 0;
    if (isPost && n % 5 === 2) {
      stats.unavailable++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"error":{"code":"unavailable","message":"try again"}}');
      return;
    }
    const upstream = request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (up: IncomingMessage) => {
      if (isPost && n % 5 === 4) {
        // The node stored the batch and answered; the answer never reaches the sensor.
        up.resume();
        up.on('end', () => {
          stats.cut++;
          req.socket.destroy();
        });
        return;
      }
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats })));
}

describe('a flaky link, one gateway token', () => {
  it('retries after 503s and lost connections with the same readings, and still counts each once', async () => {
    const proxy = await flakyProxy(node.url);
    try {
      const sim = startSimulator({
        url: proxy.url,
        token: await node.token('gateway'),
        readToken: await node.token('read'),
        devices: 6,
        regions: ['flaky-a', 'flaky-b'],
        rate: 150,
        durationS: 2,
        batch: 20,
        lingerMs: 200,
        seed: 7,
        faults: NO_FAULTS,
      });
      const summary = await sim.done;
      expect(summary.check.status, summary.check.reason).toBe('pass');
      expect(summary.run.tokens).toBe('shared');
      expect(proxy.stats.unavailable).toBeGreaterThan(0);
      expect(proxy.stats.cut).toBeGreaterThan(0);
      expect(summary.stats.errorsByKind.http_503).toBeGreaterThan(0);
      expect(summary.stats.errorsByKind.network).toBeGreaterThan(0);
      expect(summary.stats.retries).toBeGreaterThanOrEqual(summary.stats.errors);
      // The batches whose answers were cut off had been stored: their resend is answered duplicate.
      expect(summary.stats.duplicates).toBeGreaterThan(0);
      expect(summary.stats.rejected).toBe(0);
    } finally {
      proxy.server.closeAllConnections();
      proxy.server.close();
    }
  });
});

describe('a node that goes away', () => {
  it('ends by itself within its duration plus its drain, and the check fails', async () => {
    const doomed = await NodeProcess.start();
    try {
      const started = Date.now();
      const sim = startSimulator({
        url: doomed.url,
        dataDir: doomed.dataDir,
        devices: 4,
        regions: 1,
        rate: 100,
        durationS: 2,
        drainTimeoutMs: 1_000,
        seed: 3,
        faults: NO_FAULTS,
      });
      setTimeout(() => void doomed.kill(), 800);
      const summary = await sim.done;
      const tookMs = Date.now() - started;
      // Duration, drain (backoff waits end with it), the last read (a 1 s budget, then at most one 1 s backoff and a 1 s timeout), and slack.
      expect(tookMs).toBeLessThan(2_000 + 1_000 + 2_000 + 1_000 + 2_000);
      expect(summary.passed).toBe(false);
      expect(summary.check.status).toBe('fail');
      expect(summary.stats.errorsByKind.network).toBeGreaterThan(0);
      expect(summary.stats.inDoubt + summary.stats.unsent).toBeGreaterThan(0);
    } finally {
      await doomed.kill();
      doomed.cleanup();
    }
  });
});
