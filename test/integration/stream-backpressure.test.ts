/**
 * Issue 16, part 2 ("stream clients that never read grow memory without bound"): a `/v1/stream` client is
 * written to only as fast as it reads, and the number of streams is capped (`max-streams`). Against a real
 * node process: its memory is read from /proc/<pid>/status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually, sleep } from '../helpers/poll.js';

const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
const REGIONS = 1_000;
const PAUSED = 1_000;
const MIB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Opens a stream and never reads from it. */
function pausedClient(url: URL, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`GET /v1/stream HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${token}\r\naccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('regression: paused /v1/stream clients grew the node\'s memory without bound', () => {
  let node: NodeProcess;
  let gateway: string;
  let reader: string;
  const sockets: Socket[] = [];
  const names = Array.from({ length: REGIONS }, (_, i) => `zone-${i}`);
  let round = 0;

  /** One reading for every region, each round a millisecond later. */
  async function changeAll(): Promise<void> {
    round++;
    const body = names.map((region, i) => ({ device_id: `dev-${i}`, region, temperature_c: (round + i) % 40, timestamp: base + round }));
    const res = await node.postReadings(body, gateway);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }

  beforeAll(async () => {
    node = await NodeProcess.start({ flags: { 'max-streams': String(PAUSED + 1) } });
    gateway = await node.token('gateway');
    reader = await node.token('read');
    await changeAll();
  }, 30_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await node?.stop();
    node?.cleanup();
  });

  it(`keeps RSS bounded with ${PAUSED} paused clients while ${REGIONS} regions change, and answers 503 past max-streams`, async () => {
    const pid = node.child.pid!;
    // A client that reads: it must keep getting events whatever the paused ones do.
    const abort = new AbortController();
    const live = await node.fetch('/v1/stream', { token: reader, signal: abort.signal });
    expect(live.status).toBe(200);
    let liveEvents = 0;
    const reading = (async () => {
      const r = live.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await r.read();
        if (done) return;
        liveEvents += value.split('event: region\n').length - 1;
      }
    })().catch(() => undefined);
    await eventually(() => (liveEvents >= REGIONS ? true : undefined), { timeoutMs: 20_000, message: 'the live client\'s snapshot' });
    await changeAll();
    await sleep(500);
    const before = rssBytes(pid);

    const url = new URL(node.url);
    for (let i = 0; i < PAUSED; i += 100) {
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => pausedClient(url, reader)))));
    }
    // Once every paused client holds its stream, the next one is refused.
    const refused = await eventually(async () => {
      const res = await node.fetch('/v1/stream', { token: reader });
      if (res.status === 200) {
        await res.body!.cancel();
        return undefined;
      }
      return res;
    }, { timeoutMs: 20_000, message: 'a 503 past max-streams' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');

    // RSS also holds garbage not yet collected (each guest call's instance, the renders of the live client), so
    // the peak swings; what a paused client holds stays. Bounds: the settled RSS, and a looser one on the peak.
    let peak = 0;
    const liveBefore = liveEvents;
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      await changeAll();
      peak = Math.max(peak, rssBytes(pid));
      await sleep(100);
    }
    await sleep(2000);
    const settled = rssBytes(pid);
    const shown = `RSS ${Math.round(before / MIB)} -> peak ${Math.round(peak / MIB)}, settled ${Math.round(settled / MIB)} MiB`;
    expect(settled - before, shown).toBeLessThan(150 * MIB);
    expect(peak - before, shown).toBeLessThan(300 * MIB);
    expect(liveEvents - liveBefore, 'events the live client got meanwhile').toBeGreaterThan(REGIONS);
    expect((await node.fetch('/readyz')).status).toBe(200);
    abort.abort();
    await reading;
  }, 60_000);
});
