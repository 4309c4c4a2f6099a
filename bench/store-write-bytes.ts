/**
 * Bytes written to disk per event by the SQLite store, under the aggregator's write pattern.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/store-write-bytes.js [--events N] [--page-size B]
 *     [--autocheckpoint PAGES] [--synchronous full|normal] [--fold m|mht] [--late 0.01] [--retries 0.01]
 *     [--batch 100] [--value-bytes 200] [--matrix]
 *
 * Workload: 1,000 devices in 10 regions, each reporting every 10 s, so 100 readings per simulated second;
 * readings arrive in time order with jitter, 1% arrive up to a minute late and 1% are retried (duplicates).
 * Each transaction appends 100 readings (8-byte payload, as the aggregator) and puts one ~200-byte
 * aggregate per region under "m" + u32 BE minute + region (`--fold mht` adds the hour and all-time keys,
 * as the aggregator guest does). Bytes written are the process's `write_bytes` from /proc/self/io: what the
 * kernel dirtied in the page cache for this process (WAL appends, checkpoints, and the final checkpoint at
 * close), in 4 KiB pages, so a commit that appends 100 bytes costs a whole page.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SqliteStore } from '../src/store/index.js';
import { Random } from '../src/simulator/random.js';

export interface StoreWriteBytesConfig {
  events: number;
  batch: number;
  pageSize: number;
  autocheckpoint: number;
  synchronous: 'full' | 'normal';
  fold: 'm' | 'mht';
  /** Share of readings that arrive up to a minute late. */
  late: number;
  /** Share of readings that are retried (sent twice). */
  retries: number;
  /** Size of an aggregate (kv value). */
  valueBytes: number;
}

export interface StoreWriteBytesResult extends StoreWriteBytesConfig {
  seconds: number;
  writeBytes: number;
  cancelledBytes: number;
  walBytesBeforeClose: number;
  dbBytes: number;
  appended: number;
  duplicates: number;
  kvPuts: number;
}

const DEVICES = 1000;
const REGIONS = ['eu-west', 'eu-north', 'eu-central', 'us-east', 'us-west', 'ap-south', 'ap-east', 'sa-east', 'af-south', 'me-central'];
const PERIOD_MS = 10_000;
const NAMESPACE = 'aggregator@1.0.0';
const STREAM = 'aggregator';

function ioCounters(): { write: number; cancelled: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { write: field('write_bytes'), cancelled: field('cancelled_write_bytes') };
}


interface Reading {
  device: string;
  region: string;
  timeMs: number;
  payload: Uint8Array;
}

/** Readings in arrival order. */
function* readings(count: number, startMs: number, lateShare: number, retryShare: number): Generator<Reading> {
  const generator = new Random(42);
  const rand = (): number => generator.next();
  const late: { due: number; reading: Reading }[] = [];
  const recent: Reading[] = [];
  const devices = Array.from({ length: DEVICES }, (_, i) => ({
    id: `dev-${String(i).padStart(4, '0')}`,
    region: REGIONS[i % REGIONS.length]!,
    phase: Math.floor((i * PERIOD_MS) / DEVICES),
  }));
  let produced = 0;
  for (let round = 0; produced < count; round++) {
    for (const device of devices) {
      if (produced >= count) return;
      const timeMs = startMs + round * PERIOD_MS + device.phase + Math.floor(rand() * 50);
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setFloat64(0, 15 + rand() * 10, true);
      const reading = { device: device.id, region: device.region, timeMs, payload };
      while (late.length > 0 && late[0]!.due <= timeMs) {
        produced++;
        yield late.shift()!.reading;
      }
      const r = rand();
      if (r < lateShare) {
        late.push({ due: timeMs + Math.floor(rand() * 60_000), reading });
        late.sort((a, b) => a.due - b.due);
        continue;
      }
      if (r >= lateShare && r < lateShare + retryShare && recent.length > 0) {
        produced++;
        yield recent[Math.floor(rand() * recent.length)]!; // a retry
        if (produced >= count) return;
      }
      recent.push(reading);
      if (recent.length > 200) recent.shift();
      produced++;
      yield reading;
    }
  }
}

function bucketKey(kind: string, bucket: number, region: string): Uint8Array {
  const regionBytes = Buffer.from(region, 'utf8');
  const key = Buffer.alloc(5 + regionBytes.length);
  key.write(kind, 0, 'latin1');
  key.writeUInt32BE(bucket, 1);
  regionBytes.copy(key, 5);
  return key;
}

/**
 * Changes an aggregate as one more reading would: its header (count, sum, min, max, last) and one sketch
 * bin somewhere in the rest.
 */
function mutate(aggregate: Uint8Array, rand: () => number): Uint8Array {
  for (let i = 0; i < Math.min(24, aggregate.length); i++) aggregate[i] = Math.floor(rand() * 256);
  const bin = Math.floor(rand() * aggregate.length);
  aggregate[bin] = (aggregate[bin]! + 1) & 0xff;
  return aggregate;
}

export const DEFAULT_CONFIG: StoreWriteBytesConfig = {
  events: 200_000,
  batch: 100,
  pageSize: 1024,
  autocheckpoint: 4096,
  synchronous: 'full',
  fold: 'm',
  late: 0.01,
  retries: 0.01,
  valueBytes: 200,
};

/** Runs the workload once in a fresh temporary database; `writeBytes / appended` is the figure. */
export function measureStoreWriteBytes(options: Partial<StoreWriteBytesConfig> = {}): StoreWriteBytesResult {
  const config = { ...DEFAULT_CONFIG, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-bench-'));
  const path = join(dir, 'store.db');
  const generator = new Random(7);
  const rand = (): number => generator.next();
  const aggregate = new Uint8Array(config.valueBytes).map((_, i) => (i * 31) & 0xff);
  try {
    const store = SqliteStore.open({
      path,
      synchronous: config.synchronous,
      pageSize: config.pageSize,
      walAutocheckpointPages: config.autocheckpoint,
    });
    const startMs = Date.now();
    let appended = 0;
    let duplicates = 0;
    let kvPuts = 0;
    let batch: Reading[] = [];
    const commit = (): void => {
      store.atomically(() => {
        const touched = new Map<string, number>();
        for (const r of batch) {
          const outcome = store.appendEvent(STREAM, { partition: r.region, source: r.device, timeMs: r.timeMs, payload: r.payload });
          if (outcome === 'new') touched.set(`${r.region}\n${Math.floor(r.timeMs / 60_000)}`, r.timeMs);
          else duplicates++;
        }
        for (const [id, timeMs] of touched) {
          const region = id.slice(0, id.indexOf('\n'));
          mutate(aggregate, rand);
          store.kvPut(NAMESPACE, bucketKey('m', Math.floor(timeMs / 60_000), region), aggregate);
          kvPuts++;
          if (config.fold === 'mht') {
            store.kvPut(NAMESPACE, bucketKey('h', Math.floor(timeMs / 3_600_000), region), mutate(aggregate, rand));
            store.kvPut(NAMESPACE, Buffer.from(`t${region}`), mutate(aggregate, rand));
            kvPuts += 2;
          }
        }
      });
      appended += batch.length;
      batch = [];
    };
    const before = ioCounters();
    const started = performance.now();
    for (const reading of readings(config.events, startMs, config.late, config.retries)) {
      batch.push(reading);
      if (batch.length === config.batch) commit();
    }
    if (batch.length > 0) commit();
    const walBytesBeforeClose = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    store.close();
    const seconds = (performance.now() - started) / 1000;
    const after = ioCounters();
    return {
      ...config,
      seconds,
      writeBytes: after.write - before.write,
      cancelledBytes: after.cancelled - before.cancelled,
      walBytesBeforeClose,
      dbBytes: statSync(path).size,
      appended,
      duplicates,
      kvPuts,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(r: StoreWriteBytesResult): void {
  const perEvent = r.writeBytes / r.appended;
  console.log(
    [
      `page ${r.pageSize} B, autocheckpoint ${r.autocheckpoint} pages, synchronous=${r.synchronous}, fold ${r.fold}, ` +
        `${r.late * 100}% late, ${r.retries * 100}% retried, ${r.valueBytes}-byte aggregates:`,
      `${r.appended} events (${r.duplicates} duplicates) and ${r.kvPuts} kv puts in ${r.appended / r.batch} transactions`,
      `written ${(r.writeBytes / 1e6).toFixed(1)} MB = ${perEvent.toFixed(0)} B/event` +
        (r.cancelledBytes > 0 ? ` (of which ${(r.cancelledBytes / r.appended).toFixed(0)} B/event cancelled)` : ''),
      `${Math.round(r.appended / r.seconds)} events/s; db ${(r.dbBytes / 1e6).toFixed(1)} MB ` +
        `(${(r.dbBytes / r.appended).toFixed(0)} B/event), WAL ${(r.walBytesBeforeClose / 1e6).toFixed(1)} MB before close`,
    ].join('\n  '),
  );
}

function main(argv: string[]): void {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const number = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const base: StoreWriteBytesConfig = {
    events: number('events') ?? DEFAULT_CONFIG.events,
    batch: number('batch') ?? DEFAULT_CONFIG.batch,
    pageSize: number('page-size') ?? DEFAULT_CONFIG.pageSize,
    autocheckpoint: number('autocheckpoint') ?? DEFAULT_CONFIG.autocheckpoint,
    synchronous: arg('synchronous') === 'normal' ? 'normal' : 'full',
    fold: arg('fold') === 'mht' ? 'mht' : 'm',
    late: number('late') ?? DEFAULT_CONFIG.late,
    retries: number('retries') ?? DEFAULT_CONFIG.retries,
    valueBytes: number('value-bytes') ?? DEFAULT_CONFIG.valueBytes,
  };
  if (!argv.includes('--matrix')) {
    report(measureStoreWriteBytes(base));
    return;
  }
  for (const pageSize of [1024, 2048, 4096]) {
    for (const walBytes of [1, 4, 16].map((mib) => mib * 1024 * 1024)) {
      report(measureStoreWriteBytes({ ...base, pageSize, autocheckpoint: walBytes / pageSize }));
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
