/**
 * The sensor client keeps sending through a node killed with SIGKILL and restarted: every reading
 * ends up stored exactly once.
 */
import { expect, it } from 'vitest';
import { SensorClient, RequestRefusedError, type Reading } from '../../src/client/index.js';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep } from '../helpers/poll.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dirs.js';

it('retries idempotently through a crash and restart of the node', async () => {
  const dataDir = tempDir('client');
  const port = String(await freePort());
  let node = await NodeProcess.start({ dataDir, flags: { port } });
  try {
    const client = new SensorClient({ url: node.url, token: await node.token('gateway'), retry: { backoff: { initialMs: 20, maxMs: 200, multiplier: 2, jitter: 1 }, budgetMs: 20_000, maxAttempts: 100 } });
    const t = Date.now() - 60_000;
    const batches: Reading[][] = Array.from({ length: 30 }, (_, b) =>
      Array.from({ length: 20 }, (_, i) => ({ device_id: `client-${b}`, region: 'client', temperature_c: i, timestamp: t + i })),
    );
    const sending = (async () => {
      for (const batch of batches) {
        const r = await client.send(batch);
        expect(r.rejected).toBe(0);
      }
    })();
    await sleep(50);
    await node.kill();
    node = await NodeProcess.start({ dataDir, flags: { port } });
    await sending;
    const res = await node.fetch('/v1/regions/client', { token: await node.token('read') });
    expect(await res.json()).toMatchObject({ count: 600 });
    // A request the node refuses (4xx) is not retried.
    await expect(client.send([{ device_id: 'x', region: 'client', temperature_c: 1, timestamp: t }].slice(0, 0))).rejects.toBeInstanceOf(RequestRefusedError);
  } finally {
    await node.stop();
  }
});
