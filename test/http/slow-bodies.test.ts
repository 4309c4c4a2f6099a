/**
 * Issue 16.3 (slow bodies take every slot): uploads still arriving hold neither processing slots nor
 * more than the bytes they sent; below the minimum body rate they are cut with 408; a client that
 * aborts is logged in one line, without a stack. Against a real node, over real sockets.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep, until } from '../helpers/poll.js';

const nodes: NodeProcess[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.stop();
    n.cleanup();
  }
});

interface SlowUpload {
  socket: Socket;
  closed: boolean;
  received: string;
  done: Promise<void>;
}

/** Declares a 1 MB body, then sends one byte a second until the node closes the connection. */
function slowUpload(port: number, token: string): Promise<SlowUpload> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    let closed!: () => void;
    const upload: SlowUpload = { socket, closed: false, received: '', done: new Promise((r) => (closed = r)) };
    socket.on('error', () => {});
    socket.on('data', (d) => (upload.received += d.toString()));
    socket.on('close', () => {
      clearInterval(timer);
      upload.closed = true;
      closed();
    });
    socket.once('connect', () => {
      socket.write(`POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[`);
      timer = setInterval(() => socket.write(' '), 1_000);
      resolve(upload);
    });
    socket.once('error', reject);
  });
}

describe('regression: slow bodies take every slot (issue 16.3)', () => {
  it('300 slow uploaders hold no slot: a POST and a GET are answered while they are connected, and they are cut with 408 below the minimum rate', async () => {
    const node = await NodeProcess.start({
      flags: { 'max-in-flight': '32', 'min-body-rate': '1024', 'min-body-grace-ms': '3000', 'request-timeout-ms': '120000', 'idle-timeout-ms': '120000' },
    });
    nodes.push(node);
    const [gateway, read] = await Promise.all([node.token('gateway'), node.token('read')]);
    const port = Number(new URL(node.url).port);
    const slow: SlowUpload[] = [];
    for (let i = 0; i < 300; i++) slow.push(await slowUpload(port, gateway));
    await sleep(200);

    const reading = { device_id: 'prompt-1', region: 'slow-test', temperature_c: 20, timestamp: Date.now() - 1_000 };
    const posted = await node.postReadings(reading, gateway, {});
    expect(posted.status).toBe(200);
    const got = await node.fetch('/v1/regions/slow-test', { token: read });
    expect(got.status).toBe(200);
    // ...while the slow uploads are still connected (all within their grace period).
    expect(slow.filter((s) => s.closed).length).toBe(0);

    await Promise.race([Promise.all(slow.map((s) => s.done)), sleep(20_000)]);
    expect(slow.filter((s) => !s.closed).length).toBe(0);
    const answered408 = slow.filter((s) => s.received.startsWith('HTTP/1.1 408')).length;
    expect(slow.every((s) => s.received === '' || s.received.startsWith('HTTP/1.1 408'))).toBe(true);
    expect(answered408).toBeGreaterThan(0);
    expect(slow.find((s) => s.received !== '')?.received).toContain('body_too_slow');
    expect((await node.fetch('/readyz')).status).toBe(200);
  }, 60_000);

  it('a client that aborts mid-body is logged in one line, without a stack', async () => {
    const node = await NodeProcess.start();
    nodes.push(node);
    const token = await node.token('gateway');
    const port = Number(new URL(node.url).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n[{"device_id":`);
    await sleep(200);
    socket.resetAndDestroy();
    const logged = () => `${node.stdout}${node.stderr}`;
    await until(() => logged().includes('client gone mid-request'), { message: () => `the abort in the log:\n${logged()}` });
    await sleep(200);
    const lines = logged().split('\n').filter((l) => l.includes('client gone mid-request'));
    expect(lines).toHaveLength(1);
    expect(logged()).not.toMatch(/^\s+at /m);
    expect(logged()).not.toContain('"stack"');
    expect(logged()).not.toContain('request failed');
    expect((await node.fetch('/healthz')).status).toBe(200);
  }, 30_000);
});
