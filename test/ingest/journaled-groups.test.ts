/**
 * How a commit group becomes durable (src/node/group-durability.ts), through a real write path: the
 * aggregator and the example guest on a SqliteStore, the write journal and the WAL syncer. A journaled group is
 * acknowledged once its record is on disk and reaches the database with the next commit; a group that wrote
 * key-value records itself, or any group when the database has little room, is committed and synced at once.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/index.js';
import { GroupDurability } from '../../src/node/group-durability.js';
import type { GuestHttpRequest, GuestModule } from '../../src/runtime/index.js';
import { SqliteStore, WalSyncer, WriteJournal } from '../../src/store/index.js';
import { createLogger } from '../../src/telemetry/index.js';
import { loadTestGuest } from '../helpers/guests.js';
import { until } from '../helpers/poll.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const quiet = createLogger('error', { destination: () => undefined, format: 'json' });

async function writePath(guest: 'aggregator' | 'example', options: { maxPageCount?: number; idleCommitMs?: number } = {}) {
  const dir = tempDir('journaled');
  const dbPath = join(dir, 'edgeagg.db');
  const store = SqliteStore.open({ path: dbPath, synchronous: 'normal', maxPageCount: options.maxPageCount });
  const wal = new WalSyncer(`${dbPath}-wal`);
  const journal = WriteJournal.open(dbPath);
  journal.begin(store.journalMark());
  const groups = new GroupDurability({ store, wal, journal, commitIntervalMs: 60_000, idleCommitMs: options.idleCommitMs ?? 60_000, dataDir: dir, logger: quiet });
  defer(() => {
    void groups.close().finally(() => {
      wal.close();
      store.close();
    });
  });
  const module: GuestModule = await loadTestGuest(guest, { store, grants: ['clock', 'config', 'events', 'kv', 'log', 'metrics'] });
  const pipeline = new IngestPipeline({ store, module, sync: groups.sync, holdTransactions: groups.hold, journal: store.foldJournal(module.name), foldDelayMs: 50 });
  /** Events of the log that another connection sees: what the database committed. */
  const committed = (): number => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM event').pluck().get() as number;
    } finally {
      db.close();
    }
  };
  return { store, journal, groups, pipeline, committed };
}

const readings = (n: number, from = 0): GuestHttpRequest => ({
  method: 'POST',
  path: '/v1/readings',
  query: '',
  contentType: 'application/json',
  principal: { kind: 'gateway', subject: '' },
  body: Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => ({ device_id: `d-${from + i}`, region: 'north', temperature_c: 20, timestamp: Date.now() - 1000 + i })))),
});

describe('journaled commit groups', () => {
  it('are acknowledged once journaled, and reach the database at its next commit with the mark', async () => {
    const { store, journal, groups, pipeline, committed } = await writePath('aggregator');
    // A region's first reading: the aggregator counts the new region in its own records (the region cap), so
    // that group is committed at once.
    expect((await pipeline.submit(readings(1, 100))).status).toBe(200);
    expect(journal.readAll()).toEqual([]);
    expect(committed()).toBe(1);
    expect((await pipeline.submit(readings(3))).status).toBe(200);
    expect((await pipeline.submit(readings(2, 3))).status).toBe(200);
    expect(journal.readAll().map((r) => r.lsn)).toEqual([1, 2]);
    expect(store.holding).toBe(true);
    expect(committed()).toBe(1);
    await groups.commitNow();
    expect(committed()).toBe(6);
    expect(store.journalMark()).toBe(2);
  });

  it('are committed by themselves once writes pause', async () => {
    const { pipeline, committed } = await writePath('aggregator', { idleCommitMs: 100 });
    expect((await pipeline.submit(readings(1, 100))).status).toBe(200); // the region's first: committed at once
    expect((await pipeline.submit(readings(4))).status).toBe(200);
    expect(committed()).toBe(1);
    await until(() => committed() === 5, { message: 'the idle node never committed what it held' });
  });

  it('a group whose guest wrote key-value records itself is committed and synced, not journaled', async () => {
    const { store, journal, pipeline } = await writePath('example');
    const put: GuestHttpRequest = { method: 'PUT', path: '/kv/note', query: '', contentType: 'application/octet-stream', principal: { kind: 'admin', subject: 't' }, body: Buffer.from('hello') };
    expect((await pipeline.submit(put)).status).toBeLessThan(300);
    expect(journal.readAll()).toEqual([]);
    expect(store.holding).toBe(false);
  });

  it('nothing is held when the database has little room left under its size cap', async () => {
    // 8 MiB cap at 1 KiB pages: less than the room holding needs, so each group is committed and synced.
    const { journal, pipeline, committed } = await writePath('aggregator', { maxPageCount: 8192 });
    expect((await pipeline.submit(readings(3))).status).toBe(200);
    expect(committed()).toBe(3);
    expect(journal.readAll()).toEqual([]);
  });
});
