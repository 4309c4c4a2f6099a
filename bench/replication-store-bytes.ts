/**
 * What replication costs the store in bytes written per reading: the workload of bench/store-write-bytes.ts
 * (same readings, same transactions, same aggregate writes), run three ways:
 *
 * - `off`: a node that runs alone (`replication: false`, what bench/store-write-bytes.ts measures);
 * - `outbox`: replication on, nothing drains the outbox (a node cut off from NATS: it only grows);
 * - `drained`: replication on, and after every `--drain-every` transactions the acknowledged outbox entries
 *   are deleted as the publisher does (a node connected to NATS).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/replication-store-bytes.js [--events N] [--batch 100]
 *     [--fold m|mht] [--drain-every 1]
 */
import { pathToFileURL } from 'node:url';
import { SqliteStore, type SqliteStoreOptions } from '../src/store/index.js';
import { DEFAULT_CONFIG, measureStoreWriteBytes, type StoreWriteBytesConfig } from './store-write-bytes.js';

export type OutboxMode = 'off' | 'outbox' | 'drained';

export interface ReplicationStoreBytes {
  mode: OutboxMode;
  batch: number;
  fold: 'm' | 'mht';
  bytesPerReading: number;
  readingsPerSecond: number;
  outboxLeft: number;
}

/**
 * Runs measureStoreWriteBytes with the store opened in `mode`. The workload opens its own store, so the
 * option is injected by wrapping `SqliteStore.open` for the duration of the run.
 */
export function measureReplicationStoreBytes(mode: OutboxMode, config: Partial<StoreWriteBytesConfig> = {}, drainEvery = 1): ReplicationStoreBytes {
  const open = SqliteStore.open.bind(SqliteStore);
  let outboxLeft = 0;
  SqliteStore.open = (options: SqliteStoreOptions): SqliteStore => {
    const store = open({ ...options, replication: mode !== 'off' });
    if (mode === 'drained') {
      // The publisher: reads the outbox head, "publishes", deletes what was acknowledged.
      let commits = 0;
      const atomically = store.atomically.bind(store);
      store.atomically = <T>(fn: () => T): T => {
        const result = atomically(fn);
        if (++commits % drainEvery === 0) {
          const entries = store.readOutbox(0, 100_000);
          const last = entries[entries.length - 1];
          if (last !== undefined) store.deleteOutboxThrough(last.seq);
        }
        return result;
      };
    }
    const close = store.close.bind(store);
    store.close = () => {
      outboxLeft = store.outboxDepth();
      close();
    };
    return store;
  };
  try {
    const r = measureStoreWriteBytes(config);
    return {
      mode,
      batch: r.batch,
      fold: r.fold,
      bytesPerReading: r.writeBytes / r.appended,
      readingsPerSecond: r.appended / r.seconds,
      outboxLeft,
    };
  } finally {
    SqliteStore.open = open;
  }
}

function main(argv: string[]): void {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const config: Partial<StoreWriteBytesConfig> = {
    events: Number(arg('events') ?? DEFAULT_CONFIG.events),
    batch: Number(arg('batch') ?? DEFAULT_CONFIG.batch),
    fold: arg('fold') === 'mht' ? 'mht' : 'm',
  };
  const drainEvery = Number(arg('drain-every') ?? 1);
  for (const mode of ['off', 'outbox', 'drained'] as const) {
    const r = measureReplicationStoreBytes(mode, config, drainEvery);
    console.log(
      `${mode.padEnd(8)} fold=${r.fold} batch=${r.batch}: ${r.bytesPerReading.toFixed(0)} B/reading, ` +
        `${Math.round(r.readingsPerSecond)} readings/s, outbox left ${r.outboxLeft}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
