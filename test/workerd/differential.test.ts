/**
 * The same aggregator on a node and on workerd: every request goes to a real node process (auth off) and
 * to the Worker under Miniflare, in the same order, and both must answer with the same status, content
 * type, headers that matter and body bytes. Timestamps sit well inside both windows (the two clocks are
 * the machine's), and series are read with explicit from/to, so no answer depends on when it was made.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeAndWorker, type Exchange } from './node-and-worker.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The node's settings the guest's config comes from, set away from their defaults on both sides. */
const GRACE_MS = 2 * HOUR;
const MAX_REGIONS = 40;
const BODY_LIMIT = 768 * 1024;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

const { same } = useNodeAndWorker({
  nodeFlags: { 'grace-period-ms': String(GRACE_MS), 'max-regions': String(MAX_REGIONS), 'body-limit': String(BODY_LIMIT) },
  workerVars: { GRACE_PERIOD_MS: String(GRACE_MS), MAX_REGIONS: String(MAX_REGIONS), BODY_LIMIT: String(BODY_LIMIT) },
});

const json = (body: unknown): Exchange => ({ method: 'POST', path: '/v1/readings', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const ndjson = (lines: unknown[]): Exchange => ({
  method: 'POST',
  path: '/v1/readings',
  headers: { 'content-type': 'application/x-ndjson' },
  body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
});
const get = (path: string): Exchange => ({ method: 'GET', path });
const reading = (device: string, region: string, temperature: number, timestamp: number) => ({ device_id: device, region, temperature_c: temperature, timestamp });

describe('POST /v1/readings answers alike', () => {
  it('a single reading, then the same again (duplicate), then another value at its time (conflict)', async () => {
    expect((await same(json(reading('d-1', 'north', 20.5, base)))).status).toBe(200);
    expect((await same(json(reading('d-1', 'north', 20.5, base)))).text).toContain('"duplicates":1');
    expect((await same(json(reading('d-1', 'north', 99, base)))).text).toContain('"conflict"');
  });

  it('a batch of new, duplicate and conflicting readings, and the same batch again', async () => {
    const batch = [
      reading('d-2', 'north', 18.25, base + 1_000),
      reading('d-2', 'north', 18.25, base + 1_000),
      reading('d-2', 'north', 19, base + 1_000),
      reading('d-3', 'south', -4.5, base + 2 * MINUTE),
      reading('d-4', 'south', 31.125, base + 3 * MINUTE + 7),
      reading('d-1', 'north', 20.5, base),
    ];
    expect((await same(json(batch))).status).toBe(200);
    expect((await same(json(batch))).text).toContain('"accepted":0');
  });

  it('NDJSON, with a line in a region of its own', async () => {
    const lines = [reading('d-5', 'east', 12, base + 4 * MINUTE), reading('d-6', 'east', 14, base + 5 * MINUTE), reading('d-7', 'west', 1e-3, base + 6 * MINUTE)];
    expect((await same(ndjson(lines))).status).toBe(200);
    await same(ndjson(lines));
    expect((await same({ ...ndjson([...lines, reading('d-9', 'west', 2, base + 7 * MINUTE)]), chunked: true })).text).toContain('"accepted":1');
    expect((await same({ ...json(reading('d-9', 'west', 3, base + 8 * MINUTE)), chunked: true, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })).status).toBe(415);
  });

  it("a batch of 5,000 readings (the guest's memory grows past its initial pages)", async () => {
    const regions = ['north', 'south', 'east'];
    const batch = Array.from({ length: 5_000 }, (_, i) => reading(`big-${i % 50}`, regions[i % 3]!, (i % 400) / 8 - 10, base - 30 * MINUTE + i * 7));
    const res = await same(json(batch));
    expect(res.text).toContain('"accepted":5000');
  });

  it('a body past the body limit is refused before the guest sees it', async () => {
    const body = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => reading(`huge-${i}`, 'north', 1, base + i)));
    expect(body.length).toBeGreaterThan(BODY_LIMIT);
    expect((await same({ method: 'POST', path: '/v1/readings', headers: { 'content-type': 'application/json' }, body })).status).toBe(413);
  });

  it('a batch where every item is refused, each for its own reason', async () => {
    const tooLate = reading('d-8', 'north', 20, base - 3 * HOUR);
    const items = [
      '{}',
      '1',
      'null',
      '{"device_id":"d-8","region":"north","temperature_c":1,"temperature_c":2,"timestamp":' + base + '}',
      JSON.stringify({ ...reading('d-8', 'north', 20, base), humidity: 3 }),
      JSON.stringify(tooLate),
      JSON.stringify(reading('d-8', 'north', 20, Date.now() + HOUR)),
      JSON.stringify(reading('d-8', 'north', -300, base)),
      JSON.stringify(reading('d-8', 'eu:west', 20, base)),
      JSON.stringify(reading('a/../b', 'north', 20, base)),
      JSON.stringify(reading('d-8', 'north', 20, base + 0.5)),
    ];
    const res = await same({ method: 'POST', path: '/v1/readings', headers: { 'content-type': 'application/json' }, body: `[${items.join(',')}]` });
    expect(res.status).toBe(422);
    expect(res.text).toContain(`${GRACE_MS} ms`);
  });
});

interface CorpusRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  bodyBase64?: string;
  bodyRepeat?: { prefix: string; item: string; separator: string; suffix: string; count: number };
  times?: number;
}

const CORPUS = fileURLToPath(new URL('../corpus/', import.meta.url));
/** Cases about routes the node has besides the aggregator's (the Worker serves only the aggregator's). */
const NODE_ONLY = new Set(['scope-gateway-node']);

function corpusExchange(req: CorpusRequest): Exchange {
  let body: string | ArrayBuffer | undefined = req.body?.replaceAll('__NOW__', String(base + 30_000));
  if (req.bodyBase64 !== undefined) body = new Uint8Array(Buffer.from(req.bodyBase64, 'base64')).buffer;
  if (req.bodyRepeat) {
    const r = req.bodyRepeat;
    body = r.prefix + Array.from({ length: r.count }, () => r.item).join(r.separator) + r.suffix;
  }
  // Authentication is off on both sides: the corpus's tokens are left out.
  return { method: req.method, path: req.path.replaceAll('{{token}}', ''), headers: req.headers, body: req.method === 'GET' || req.method === 'DELETE' ? undefined : (body ?? '') };
}

describe('the malformed-request corpus (test/corpus) answers alike', () => {
  const cases = readdirSync(CORPUS)
    .filter((name) => statSync(join(CORPUS, name)).isDirectory() && !NODE_ONLY.has(name))
    .sort();

  beforeAll(async () => {
    // The region the corpus's queries read.
    expect((await same(json(reading('seed-1', 'corpus-seed', 20, base)))).status).toBe(200);
  });

  it('covers the corpus', () => {
    expect(cases.length).toBeGreaterThan(60);
  });

  it.each(cases)('%s', async (name) => {
    const req = JSON.parse(readFileSync(join(CORPUS, name, 'request.json'), 'utf8')) as CorpusRequest;
    for (let i = 0; i < (req.times ?? 1); i++) await same(corpusExchange(req));
  });
});

describe('GET /v1/regions… answers alike', () => {
  const from = base - HOUR;
  const to = base + HOUR;

  it('the region list, whole and page by page', async () => {
    const all = await same(get('/v1/regions?limit=1000'));
    expect(all.text).toContain('"region":"north"');
    await same(get('/v1/regions'));
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await same(get(`/v1/regions?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`));
      cursor = (JSON.parse(page.text) as { next_cursor: string | null }).next_cursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(cursor).toBeNull();
  });

  it('one region, all time and in a range', async () => {
    expect((await same(get('/v1/regions/north'))).status).toBe(200);
    await same(get('/v1/regions/south'));
    await same(get(`/v1/regions/north?from=${from}&to=${to}`));
    await same(get(`/v1/regions/south?from=${base + MINUTE}&to=${base + 3 * MINUTE}`));
    await same(get('/v1/regions/no-such-region'));
    await same(get('/v1/regions/'));
    await same(get('/v1/regions/north/elsewhere'));
  });

  it('series by minute and by hour, with explicit from/to', async () => {
    expect((await same(get(`/v1/regions/north/series?bucket=1m&from=${from}&to=${to}`))).status).toBe(200);
    await same(get(`/v1/regions/south/series?bucket=1m&from=${from}&to=${to}`));
    await same(get(`/v1/regions/east/series?bucket=1h&from=${from}&to=${to}`));
    await same(get(`/v1/regions/no-such-region/series?bucket=1m&from=${from}&to=${to}`));
  });
});

describe('the node settings the guest reads answer alike', () => {
  it('regions past max-regions are refused alike', async () => {
    const many = Array.from({ length: MAX_REGIONS }, (_, i) => reading(`d-r${i}`, `r-${i}`, i, base + i));
    const res = await same(json(many));
    expect(res.text).toContain('too_many_regions');
    await same(get('/v1/regions?limit=1000'));
  });
});
