/**
 * Slow clients cannot hold the node (headers, body and idle timeouts), and a graceful shutdown
 * answers what is in flight before it exits.
 */
import { connect } from 'node:net';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep } from '../helpers/poll.js';

const nodes: NodeProcess[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.stop();
    n.cleanup();
  }
});

/** Opens a raw connection, sends `first`, then dribbles a byte every 200 ms; resolves when the server closes it. */
function slowClient(port: number, first: string, dribble: string): Promise<{ closedAfterMs: number; received: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(first);
      timer = setInterval(() => socket.write(dribble), 200);
    });
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
    setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error('the server never closed the slow connection'));
    }, 15_000);
  });
}

describe('slow clients (slowloris)', () => {
  it('closes a client that never finishes its headers, and keeps serving others', async () => {
    const node = await NodeProcess.start({ flags: { 'headers-timeout-ms': '1000', 'request-timeout-ms': '2000' } });
    nodes.push(node);
    const port = Number(new URL(node.url).port);
    const slow = slowClient(port, 'POST /v1/readings HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    // Meanwhile, everyone else is served.
    expect((await node.fetch('/healthz')).status).toBe(200);
    const { closedAfterMs } = await slow;
    expect(closedAfterMs).toBeLessThan(10_000);
  });

  it('closes a client that sends its headers but never finishes the body', async () => {
    const node = await NodeProcess.start({ flags: { 'headers-timeout-ms': '1000', 'request-timeout-ms': '2000' } });
    nodes.push(node);
    const token = await node.token('gateway');
    const port = Number(new URL(node.url).port);
    const headers = `POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[`;
    const { closedAfterMs } = await slowClient(port, headers, ' ');
    expect(closedAfterMs).toBeLessThan(10_000);
    expect((await node.fetch('/healthz')).status).toBe(200);
  });
});

describe('load shedding', () => {
  it('past --max-in-flight, answers 503 overloaded at once with Retry-After, and serves again after', async () => {
    const node = await NodeProcess.start({ flags: { 'max-in-flight': '1' } });
    nodes.push(node);
    const token = await node.token('gateway');
    // Requests being processed hold the slot (a body still arriving holds none: test/http/slow-bodies.test.ts).
    const t0 = Date.now() - 60_000;
    const batch = (k: number) => Array.from({ length: 5_000 }, (_, i) => ({ device_id: `shed-${k}`, region: 'shed', temperature_c: 1, timestamp: t0 - i }));
    const answers = await Promise.all(Array.from({ length: 16 }, (_, k) => node.postReadings(batch(k), token)));
    const refused = answers.find((r) => r.status === 503);
    expect(refused).toBeDefined();
    expect(refused!.headers.get('retry-after')).toBe('1');
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    const reading = { device_id: 'shed-1', region: 'shed', temperature_c: 1, timestamp: Date.now() - 1000 };
    const served = await node.postReadings(reading, token);
    expect(served.status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM, answers every request in flight, keeps what it acknowledged, and exits 0', async () => {
    const node = await NodeProcess.start();
    nodes.push(node);
    const token = await node.token('gateway');
    const t = Date.now() - 60_000;
    const requests = Array.from({ length: 40 }, (_, i) =>
      node
        .postReadings(Array.from({ length: 50 }, (_, j) => ({ device_id: `sd-${i}`, region: 'shutdown', temperature_c: 1, timestamp: t + j })), token)
        .then((r) => r.status, () => 'refused'),
    );
    await sleep(5);
    const exit = node.stop('SIGTERM');
    const statuses = await Promise.all(requests);
    expect(await exit).toBe(0);
    // Every request got an answer or was refused at the door; none was cut off half-way.
    const acknowledged = statuses.filter((s) => s === 200).length;
    for (const s of statuses) expect([200, 'refused']).toContain(s);
    const db = new Database(join(node.dataDir, 'edgeagg.db'), { readonly: true });
    try {
      const stored = (db.prepare('SELECT count(*) AS n FROM event').get() as { n: number }).n;
      expect(stored).toBeGreaterThanOrEqual(acknowledged * 50);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});
