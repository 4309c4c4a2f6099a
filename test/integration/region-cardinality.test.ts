/**
 * Issue 16, part 1 ("region cardinality breaks reads for everyone"): `GET /v1/regions` is paged, the
 * stream's snapshot is read page by page, and `max-regions` caps the regions the API creates. Against a
 * real node process over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';

const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

interface Page {
  regions: Array<{ region: string; count: number }>;
  next_cursor: string | null;
}

function readings(regions: string[], t = base): unknown[] {
  return regions.map((region, i) => ({ device_id: `d-${i}-${region}`, region, temperature_c: 20 + (i % 10), timestamp: t }));
}

async function post(node: NodeProcess, token: string, body: unknown[]): Promise<{ status: number; json: { accepted: number; rejected: number; results: Array<{ status: string; error?: { code: string; field?: string } }> } }> {
  const res = await node.postReadings(body, token);
  return { status: res.status, json: (await res.json()) as never };
}

/** Every region, following next_cursor; at most `maxPages` requests. */
async function allPages(node: NodeProcess, token: string, limit: number, maxPages: number): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const res = await node.fetch(`/v1/regions?${query}`, { token });
    expect(res.status, await res.clone().text()).toBe(200);
    const page = (await res.json()) as Page;
    expect(page.regions.length).toBeLessThanOrEqual(limit);
    names.push(...page.regions.map((r) => r.region));
    cursor = page.next_cursor;
    pages++;
  } while (cursor !== null && pages < maxPages);
  expect(cursor, 'more pages than expected').toBeNull();
  return { names, pages };
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('GET /v1/regions paging', () => {
  let node: NodeProcess;
  let gateway: string;
  let reader: string;
  // Names whose byte order differs from a case-insensitive or numeric order.
  const names = Array.from({ length: 240 }, (_, i) => [`r-${i}`, `R.${i}`, `a_${i % 7}-${i}`][i % 3]!);

  beforeAll(async () => {
    node = await NodeProcess.start();
    gateway = await node.token('gateway');
    reader = await node.token('read');
    expect((await post(node, gateway, readings(names))).json.accepted).toBe(names.length);
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  it('pages are sorted by name (byte order), complete and without repeats', async () => {
    const { names: got, pages } = await allPages(node, reader, 7, 100);
    expect(got).toEqual([...names].sort(byteOrder));
    expect(pages).toBe(Math.ceil(names.length / 7));
  });

  it('answers 100 regions by default and null next_cursor on the last page', async () => {
    const first = (await (await node.fetch('/v1/regions', { token: reader })).json()) as Page;
    expect(first.regions).toHaveLength(100);
    expect(typeof first.next_cursor).toBe('string');
    const all = (await (await node.fetch('/v1/regions?limit=1000', { token: reader })).json()) as Page;
    expect(all.regions).toHaveLength(names.length);
    expect(all.next_cursor).toBeNull();
  });

  it('is stable: a cursor continues after its region, whatever was created meanwhile', async () => {
    const first = (await (await node.fetch('/v1/regions?limit=10', { token: reader })).json()) as Page;
    const last = first.regions.at(-1)!.region;
    // One region sorting before the cursor, one after it.
    await post(node, gateway, readings(['0-before', `${last}0`], base + MINUTE));
    const next = (await (await node.fetch(`/v1/regions?limit=10&cursor=${first.next_cursor}`, { token: reader })).json()) as Page;
    expect(next.regions[0]!.region).toBe(`${last}0`);
    expect(next.regions.map((r) => r.region)).not.toContain('0-before');
  });

  it('answers 400 with a code for a bad limit or cursor', async () => {
    const cases: Array<[string, string]> = [
      ['limit=0', 'invalid_query'],
      ['limit=1001', 'invalid_query'],
      ['limit=ten', 'invalid_query'],
      ['limit=', 'invalid_query'],
      ['limit=5&limit=6', 'invalid_query'],
      ['cursor=!!', 'invalid_cursor'],
      ['cursor=a', 'invalid_cursor'],
      [`cursor=${Buffer.from('not a region').toString('base64url')}`, 'invalid_cursor'],
      ['cursor=YQ&cursor=Yg', 'invalid_query'],
    ];
    for (const [query, code] of cases) {
      const res = await node.fetch(`/v1/regions?${query}`, { token: reader });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, query).toBe(code);
    }
  });
});

describe('max-regions', () => {
  let node: NodeProcess;
  let gateway: string;

  beforeAll(async () => {
    node = await NodeProcess.start({ flags: { 'max-regions': '3', 'fold-delay-ms': '200' } });
    gateway = await node.token('gateway');
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  it('refuses a reading for a region beyond the cap per item (too_many_regions), keeping the rest of the batch', async () => {
    const res = await post(node, gateway, readings(['a', 'b', 'c', 'd', 'a']));
    expect(res.status).toBe(200);
    expect(res.json.results.map((r) => r.error?.code ?? r.status)).toEqual(['accepted', 'accepted', 'accepted', 'too_many_regions', 'accepted']);
    expect(res.json.results[3]!.error!.field).toBe('region');
    // Only refused items: 422.
    const only = await post(node, gateway, readings(['e'], base + MINUTE));
    expect(only.status).toBe(422);
    expect(only.json.results[0]!.error!.code).toBe('too_many_regions');
    // Existing regions still take readings.
    expect((await post(node, gateway, readings(['b'], base + 2 * MINUTE))).json.accepted).toBe(1);
  });

  it('counts regions durably: the cap holds after a restart', async () => {
    await node.stop();
    node = await NodeProcess.start({ dataDir: node.dataDir, flags: { 'max-regions': '3' } });
    const res = await post(node, gateway, readings(['f'], base + 3 * MINUTE));
    expect(res.json.results[0]!.error!.code).toBe('too_many_regions');
  });

  it('regression: batches sent before the fold ran cannot overshoot the cap (the count is kept at append time)', async () => {
    await node.stop();
    node.cleanup();
    node = await NodeProcess.start({ flags: { 'max-regions': '1', 'fold-delay-ms': '500' } });
    gateway = await node.token('gateway');
    const results = await Promise.all(['x', 'y', 'z'].map((r) => post(node, gateway, readings([r]))));
    expect(results.map((r) => r.json.accepted).sort()).toEqual([0, 0, 1]);
  });
});

describe('regression: 17,000 regions broke GET /v1/regions (guest_trap) and silenced /v1/stream', () => {
  const N = 17_500;
  let node: NodeProcess;
  let reader: string;

  beforeAll(async () => {
    node = await NodeProcess.start({ flags: { 'max-regions': '20000' } });
    const gateway = await node.token('gateway');
    reader = await node.token('read');
    const names = Array.from({ length: N }, (_, i) => `region-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < N; i += 2500) {
      const res = await post(node, gateway, readings(names.slice(i, i + 2500)));
      expect(res.json.accepted, JSON.stringify(res.json).slice(0, 400)).toBe(Math.min(2500, N - i));
    }
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    node?.cleanup();
  });

  it('GET /v1/regions answers every page', async () => {
    const { names, pages } = await allPages(node, reader, 1000, 30);
    expect(names).toHaveLength(N);
    expect(new Set(names).size).toBe(N);
    expect(pages).toBe(Math.ceil(N / 1000));
    expect((await node.fetch('/readyz')).status).toBe(200);
  }, 30_000);

  it('/v1/stream sends a snapshot event for every region', async () => {
    const abort = new AbortController();
    const res = await node.fetch('/v1/stream', { token: reader, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader_ = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = 0;
    let tail = '';
    const deadline = Date.now() + 30_000;
    try {
      while (events < N && Date.now() < deadline) {
        const { value, done } = await reader_.read();
        if (done) break;
        const text = tail + value;
        const cut = text.lastIndexOf('\n\n');
        if (cut < 0) {
          tail = text;
          continue;
        }
        events += text.slice(0, cut).split('event: region\n').length - 1;
        tail = text.slice(cut + 2);
      }
    } finally {
      abort.abort();
    }
    expect(events).toBe(N);
  }, 40_000);
});
