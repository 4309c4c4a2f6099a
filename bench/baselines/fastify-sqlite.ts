/**
 * Baseline (b): what a developer would write by hand: fastify with better-sqlite3 (WAL,
 * synchronous=NORMAL as commonly recommended: safe against a crash of the process, not a power
 * cut), one transaction per request, one row per reading with a primary key on
 * (device_id, timestamp), and the region's aggregate row updated per reading.
 *
 *   node dist/bench/baselines/fastify-sqlite.js PORT DATA_DIR
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { join } from 'node:path';
import { validate, type Reading } from './readings.js';

const db = new Database(join(process.argv[3] ?? '.', 'baseline.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
  CREATE TABLE IF NOT EXISTS readings (device_id TEXT NOT NULL, timestamp INTEGER NOT NULL, region TEXT NOT NULL,
    temperature_c REAL NOT NULL, PRIMARY KEY (device_id, timestamp));
  CREATE TABLE IF NOT EXISTS aggregates (region TEXT PRIMARY KEY, count INTEGER NOT NULL, micro INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, last_ts INTEGER NOT NULL, last_device TEXT NOT NULL, last_temp REAL NOT NULL);
`);
const insert = db.prepare('INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?)');
const existing = db.prepare<[string, number], { temperature_c: number; region: string }>('SELECT temperature_c, region FROM readings WHERE device_id = ? AND timestamp = ?');
const upsert = db.prepare(`INSERT INTO aggregates VALUES (@region, 1, @micro, @t, @t, @ts, @device, @t)
  ON CONFLICT (region) DO UPDATE SET count = count + 1, micro = micro + @micro, min = min(min, @t), max = max(max, @t),
    last_device = CASE WHEN @ts > last_ts OR (@ts = last_ts AND @device > last_device) THEN @device ELSE last_device END,
    last_temp = CASE WHEN @ts > last_ts OR (@ts = last_ts AND @device > last_device) THEN @t ELSE last_temp END,
    last_ts = max(last_ts, @ts)`);
const all = db.prepare<[], { region: string; count: number; micro: number; min: number; max: number }>('SELECT * FROM aggregates ORDER BY region');

const ingest = db.transaction((items: unknown[]) => {
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
    const reading = r as Reading;
    if (insert.run(reading.device_id, reading.timestamp, reading.region, reading.temperature_c).changes === 0) {
      const e = existing.get(reading.device_id, reading.timestamp)!;
      if (e.temperature_c === reading.temperature_c && e.region === reading.region) {
        duplicates++;
        return { status: 'duplicate' };
      }
      rejected++;
      return { status: 'rejected', error: { code: 'conflict' } };
    }
    const t = reading.temperature_c;
    upsert.run({ region: reading.region, micro: Math.sign(t) * Math.round(Math.abs(t) * 1e6), t, ts: reading.timestamp, device: reading.device_id });
    accepted++;
    return { status: 'accepted' };
  });
  return { accepted, duplicates, rejected, results };
});

const app = Fastify();
app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, (body as string).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown));
  } catch (error) {
    done(error as Error, undefined);
  }
});
app.post('/v1/readings', async (req, reply) => {
  const items = Array.isArray(req.body) ? req.body : [req.body];
  const out = ingest(items);
  return reply.code(out.rejected === items.length ? 422 : 200).send(out);
});
app.get('/v1/regions', async () => ({
  regions: all.all().map((a) => ({ region: a.region, count: a.count, sum: a.micro / 1e6, mean: a.micro / 1e6 / a.count, min: a.min, max: a.max })),
}));
app.get('/readyz', async () => ({ ready: true }));

const address = await app.listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${address}\n`);
