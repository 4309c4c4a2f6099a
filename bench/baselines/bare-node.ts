/**
 * Baseline (a): a bare node:http server doing the same validation, dedup and aggregation in memory,
 * with no sandbox, no auth and no durability: the ceiling for Node on this machine.
 *
 *   node dist/bench/baselines/bare-node.js PORT
 */
import { createServer } from 'node:http';
import { RegionAggregate, parseItems, validate } from './readings.js';

const seen = new Map<string, number>();
const regions = new Map<string, RegionAggregate>();

const server = createServer((req, res) => {
  const send = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method === 'GET' && req.url === '/v1/regions') {
    send(200, { regions: [...regions.keys()].sort().map((r) => regions.get(r)!.toJSON(r)) });
    return;
  }
  if (req.method === 'GET' && req.url === '/readyz') {
    send(200, { ready: true });
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/readings') {
    send(404, { error: { code: 'not_found' } });
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let items: unknown[];
    try {
      items = parseItems(Buffer.concat(chunks).toString('utf8'), req.headers['content-type'] ?? '');
    } catch {
      send(400, { error: { code: 'invalid_json' } });
      return;
    }
    const now = Date.now();
    let accepted = 0;
    let duplicates = 0;
    let rejected = 0;
    const results = items.map((item) => {
      const r = validate(item, now);
      if (typeof r === 'string') {
        rejected++;
        return { status: 'rejected', error: { code: r } };
      }
      const key = `${r.device_id}\u0000${r.timestamp}`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        if (previous === r.temperature_c) {
          duplicates++;
          return { status: 'duplicate' };
        }
        rejected++;
        return { status: 'rejected', error: { code: 'conflict' } };
      }
      seen.set(key, r.temperature_c);
      let agg = regions.get(r.region);
      if (!agg) regions.set(r.region, (agg = new RegionAggregate()));
      agg.add(r);
      accepted++;
      return { status: 'accepted' };
    });
    send(rejected === items.length ? 422 : 200, { accepted, duplicates, rejected, results });
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
