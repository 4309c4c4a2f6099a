/**
 * The dashboard reads every region although `GET /v1/regions` is paged (issue 16): web/api.js follows
 * next_cursor. Run in Node against a real node process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';

const { getJson } = (await import(new URL('../../web/api.js', import.meta.url).href)) as {
  getJson: (path: string, token: string) => Promise<{ status: number; body: { regions: Array<{ region: string }>; next_cursor: string | null } }>;
};

describe('dashboard: GET /v1/regions over several pages', () => {
  let node: NodeProcess;
  const names = Array.from({ length: 250 }, (_, i) => `dash-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    node = await NodeProcess.start();
    const t = Date.now() - 60_000;
    const res = await node.postReadings(names.map((region, i) => ({ device_id: `d${i}`, region, temperature_c: 20, timestamp: t })), await node.token('gateway'));
    expect(res.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  it('getJson follows next_cursor and returns every region once, in order', async () => {
    const { status, body } = await getJson(`${node.url}/v1/regions`, await node.token('read'));
    expect(status).toBe(200);
    expect(body.regions.map((r) => r.region)).toEqual(names);
    expect(body.next_cursor).toBeNull();
  });
});
