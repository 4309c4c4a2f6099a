/**
 * The stream's handling of clients (issue 16, part 2), over real HTTP against a RegionStream in a plain
 * server: a client that stops reading is not written to, gets the latest aggregates of what changed once it
 * reads again, and is closed if it reads nothing for too long; past max-streams the answer is 503.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { RegionStream, type RegionStreamOptions } from '../../src/apps/aggregator/region-stream.js';
import { eventually } from '../helpers/poll.js';

// Large events, so that the socket buffers of a paused client fill after a few pages.
const PAD = 'x'.repeat(64 * 1024);
const NAMES = Array.from({ length: 500 }, (_, i) => `r${String(i).padStart(3, '0')}`);
const version = new Map<string, number>();

function render(region: string): string {
  return JSON.stringify({ region, v: version.get(region) ?? 0, pad: PAD });
}

const options: RegionStreamOptions = {
  render,
  page: (cursor) => {
    const start = cursor === undefined ? 0 : NAMES.indexOf(cursor) + 1;
    const slice = NAMES.slice(start, start + 10);
    return { regions: slice.map(render), next: start + 10 < NAMES.length ? slice.at(-1) : undefined };
  },
  intervalMs: 10,
};

let server: Server | undefined;
let stream: RegionStream | undefined;
const sockets: Socket[] = [];

async function serve(extra: Partial<RegionStreamOptions>): Promise<number> {
  stream = new RegionStream({ ...options, ...extra });
  server = createServer((req, res) => stream!.open(req, res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /v1/stream HTTP/1.1\r\nhost: x\r\n\r\n');
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  stream?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  version.clear();
});

describe('RegionStream clients', () => {
  it('a paused client gets the latest aggregates of what changed once it reads again', async () => {
    const port = await serve({});
    const socket = await client(port);
    socket.pause();
    // Changes while it does not read: many versions of one region.
    for (let v = 1; v <= 20; v++) {
      version.set('r499', v);
      stream!.changed(['r499']);
      await new Promise((r) => setTimeout(r, 15));
    }
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (text.length > 4 * PAD.length) text = text.slice(-4 * PAD.length); // keep the tail only
    });
    socket.resume();
    await eventually(() => (text.includes('"region":"r499","v":20') ? true : undefined), { timeoutMs: 20_000, message: 'the latest r499' });
  }, 30_000);

  it('closes a client that reads nothing for stallTimeoutMs', async () => {
    const port = await serve({ stallTimeoutMs: 300, heartbeatMs: 100 });
    const socket = await client(port);
    socket.pause();
    await eventually(() => (stream!.clientCount === 1 ? true : undefined));
    await eventually(() => (stream!.clientCount === 0 ? true : undefined), { timeoutMs: 10_000, message: 'the stalled client closed' });
  }, 20_000);

  it('answers 503 too_many_streams past maxStreams', async () => {
    const port = await serve({ maxStreams: 2 });
    await client(port);
    await client(port);
    await eventually(() => (stream!.clientCount === 2 ? true : undefined));
    const res = await fetch(`http://127.0.0.1:${port}/v1/stream`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
  });
});
