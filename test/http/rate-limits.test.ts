/**
 * Issue 16.4 (no per-client limits): per-token and per-device token buckets answer 429 `rate_limited`
 * with `Retry-After`; one device flooding leaves other devices their goodput; body bytes in flight are
 * bounded, so many large batches at once get 503 `uploads_overloaded` instead of the node's memory.
 */
import { readFileSync } from 'node:fs';
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

let clock = Date.now() - 60 * 60 * 1000;
/** `n` readings of `device`, each with a timestamp never used before (no duplicates). */
function readings(device: string, n: number, region = 'rl'): object[] {
  return Array.from({ length: n }, () => ({ device_id: device, region, temperature_c: 20, timestamp: clock++ }));
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe('regression: no per-client limits (issue 16.4)', () => {
  it('a token over its rate gets 429 rate_limited with Retry-After; a device over its own rate too, and other clients are not affected', async () => {
    const node = await NodeProcess.start({
      flags: { 'rate-limit-per-token': '10', 'rate-limit-per-token-burst': '20', 'rate-limit-per-device': '5', 'rate-limit-per-device-burst': '5' },
    });
    nodes.push(node);
    const [gateway, other, device, otherDevice] = await Promise.all([
      node.token('gateway', 'gw-1'),
      node.token('gateway', 'gw-2'),
      node.token('device', 'dev-1'),
      node.token('device', 'dev-2'),
    ]);
    expect((await node.postReadings(readings('a', 20), gateway)).status).toBe(200);
    const limited = await node.postReadings(readings('a', 10), gateway);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await errorCode(limited)).toBe('rate_limited');
    // Another token has its own bucket.
    expect((await node.postReadings(readings('b', 10), other)).status).toBe(200);

    expect((await node.postReadings(readings('dev-1', 5), device)).status).toBe(200);
    const deviceLimited = await node.postReadings(readings('dev-1', 1), device);
    expect(deviceLimited.status).toBe(429);
    expect(deviceLimited.headers.get('retry-after')).toBe('1');
    expect(await errorCode(deviceLimited)).toBe('rate_limited');
    expect((await node.postReadings(readings('dev-2', 1), otherDevice)).status).toBe(200);
    // The bucket refills with time: after Retry-After the device is served again.
    await sleep(1_100);
    expect((await node.postReadings(readings('dev-1', 1), device)).status).toBe(200);
  }, 30_000);

  it('one device flooding cannot push other devices below 90 % goodput', async () => {
    const node = await NodeProcess.start({ flags: { 'rate-limit-per-device': '200', 'rate-limit-per-device-burst': '400' } });
    nodes.push(node);
    const flooder = await node.token('device', 'flooder');
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => node.token('device', `calm-${i}`)));
    const durationMs = 8_000;
    const end = Date.now() + durationMs;
    let floodAccepted = 0;
    const flood = async (): Promise<void> => {
      while (Date.now() < end) {
        try {
          const res = await node.postReadings(readings('flooder', 100), flooder);
          if (res.status === 200) floodAccepted += ((await res.json()) as { accepted: number }).accepted;
          else await res.arrayBuffer();
        } catch {
          // A refused connection counts for nothing; keep flooding.
        }
      }
    };
    const calm = async (token: string, device: string): Promise<{ attempted: number; accepted: number }> => {
      let attempted = 0;
      let accepted = 0;
      while (Date.now() < end) {
        attempted += 5;
        try {
          const res = await node.postReadings(readings(device, 5), token, {}).then((r) => r);
          if (res.status === 200) accepted += ((await res.json()) as { accepted: number }).accepted;
          else await res.arrayBuffer();
        } catch {
          // A failed request is lost goodput.
        }
        await sleep(100);
      }
      return { attempted, accepted };
    };
    const [, results] = await Promise.all([
      Promise.all(Array.from({ length: 32 }, flood)),
      Promise.all(others.map((t, i) => calm(t, `calm-${i}`))),
    ]);
    for (const r of results) {
      expect(r.attempted).toBeGreaterThan(0);
      expect(r.accepted / r.attempted).toBeGreaterThanOrEqual(0.9);
    }
    // The flooder got no more than its burst and its rate over the run (with a second of slack).
    expect(floodAccepted).toBeLessThanOrEqual(400 + 200 * (durationMs / 1000 + 1));
  }, 60_000);

  it('many large batches at once: body bytes in flight are bounded (503 uploads_overloaded), memory stays bounded', async () => {
    const node = await NodeProcess.start({
      flags: { 'max-body-bytes-in-flight': String(8 * 1024 * 1024), 'rate-limit-per-token': '0', 'rate-limit-per-device': '0' },
    });
    nodes.push(node);
    const token = await node.token('gateway');
    const pid = node.child.pid!;
    const body = JSON.stringify(readings('big', 10_000, 'big'));
    let peak = rssMiB(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
    const statuses: number[] = [];
    const codes = new Set<string>();
    try {
      await Promise.all(
        Array.from({ length: 128 }, async () => {
          try {
            const res = await node.fetch('/v1/readings', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body });
            statuses.push(res.status);
            if (res.status !== 200) codes.add(await errorCode(res));
            else await res.arrayBuffer();
          } catch {
            statuses.push(0);
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect([...codes]).toContain('uploads_overloaded');
    expect(peak).toBeLessThan(384);
    // A one-reading post is answered after the storm.
    expect((await node.postReadings(readings('small', 1), token)).status).toBe(200);
  }, 60_000);
});
