/**
 * Retention in the store (src/store/retention.ts) and the manifest's `retention` field: buckets are deleted
 * only once wholly past their time, a bounded number per transaction; events with their digests, never one
 * the fold journal still names; freed pages go back to the file system; the size budget refuses growth.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ModuleLoadError, StoreUnavailableError, generateSigningKey, signModule, type StoredEvent } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const MINUTE = 60_000;
const NS = 'agg@1.0.0';
const T0 = Date.UTC(2030, 0, 1);

function open(path = join(tempDir('retention'), 'edgeagg.db'), replication = true): SqliteStore {
  const store = SqliteStore.open({ path, synchronous: 'normal', replication });
  defer(() => store.close());
  return store;
}

function key(prefix: string, bucket: number, rest = 'north'): Uint8Array {
  const k = Buffer.alloc(prefix.length + 4 + rest.length);
  k.write(prefix, 'latin1');
  k.writeUInt32BE(bucket, prefix.length);
  k.write(rest, prefix.length + 4, 'latin1');
  return k;
}

const minuteRule = { prefix: Buffer.from('m'), unitMs: MINUTE, keepMs: 10 * MINUTE };
const hourRule = { prefix: Buffer.from('h'), unitMs: 60 * MINUTE, keepMs: 0 };

function event(i: number, timeMs = T0 + i * 1000): StoredEvent {
  return { partition: `r${i % 3}`, source: `dev-${i}`, timeMs, payload: Buffer.from([i & 0xff]) };
}

describe('pruneNamespace', () => {
  it('deletes the buckets that ended more than keepMs ago, at most maxRows a call, and nothing else', () => {
    const store = open();
    const first = T0 / MINUTE;
    for (let b = first; b < first + 30; b++) {
      store.kvPut(NS, key('m', b), Buffer.from([1]));
      store.kvPut(NS, key('h', b), Buffer.from([2]));
      store.kvPut('other@1', key('m', b), Buffer.from([3]));
    }
    store.kvPut(NS, Buffer.from('tnorth'), Buffer.from([4]));
    const now = T0 + 30 * MINUTE + 30_000; // half way through minute first + 30
    const retention = store.retention();
    // Minutes first .. first + 19 ended at least 10 minutes ago: 20 keys, in calls of 8.
    expect(retention.pruneNamespace(NS, [minuteRule, hourRule], now, 8)).toBe(8);
    expect(retention.pruneNamespace(NS, [minuteRule, hourRule], now, 8)).toBe(8);
    expect(retention.pruneNamespace(NS, [minuteRule, hourRule], now, 8)).toBe(4);
    expect(retention.pruneNamespace(NS, [minuteRule, hourRule], now, 8)).toBe(0);
    const minutes = store.kvList(NS, Buffer.from('m'), undefined, 100).map((k) => Buffer.from(k).readUInt32BE(1) - first);
    expect(minutes).toEqual(Array.from({ length: 10 }, (_, i) => i + 20));
    expect(store.kvList(NS, Buffer.from('h'), undefined, 100)).toHaveLength(30); // keepMs 0: forever
    expect(store.kvGet(NS, Buffer.from('tnorth'))).toEqual(Buffer.from([4]));
    expect(store.kvList('other@1', Buffer.from('m'), undefined, 100)).toHaveLength(30);
  });

  it('finds every version of a module, and only that module', () => {
    const store = open();
    for (const ns of ['agg@1.0.0', 'agg@2.0.0', 'agg2@1.0.0', 'aggB@1', 'ag@1']) store.kvPut(ns, Buffer.from('k'), Buffer.from('v'));
    store.appendEvent('agg@3.0.0', event(1)); // a stream name, not a namespace with keys
    expect(store.retention().namespacesOf('agg')).toEqual(['agg@1.0.0', 'agg@2.0.0']);
  });
});

describe('pruneEvents', () => {
  it('deletes old events and their digests in bounded transactions, keeping what the fold journal names', () => {
    const store = open();
    for (let i = 0; i < 600; i++) store.appendEvent('agg', event(i));
    const journal = store.foldJournal('agg');
    store.transaction(() => journal.append([event(450)]));
    const retention = store.retention();
    const before = T0 + 500 * 1000;
    let calls = 0;
    while (retention.pruneEvents('agg', before, 100) === 100) calls++;
    // Everything from the journal's oldest event on is kept: 600 - 450.
    expect(store.countEvents('agg')).toBe(150);
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(journal.load()).toEqual([expect.objectContaining({ source: 'dev-450' })]);
    // Digests of the minutes wholly before the first kept event are gone, the others kept.
    const digests = store.eventDigests('agg', { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 });
    expect(Math.min(...digests.map((d) => d.bucket))).toBe(Math.floor((T0 + 450_000) / MINUTE));
    store.transaction(() => journal.clear());
    while (retention.pruneEvents('agg', before, 100) === 100);
    expect(store.countEvents('agg')).toBe(100);
    expect(store.readEvents('agg', { limit: 1 }).events[0]?.source).toBe('dev-500');
  });
});

describe('space', () => {
  it('gives freed pages back to the file system (incremental vacuum)', () => {
    const store = open();
    const big = Buffer.alloc(800, 7);
    store.transaction(() => {
      for (let b = 0; b < 2000; b++) store.kvPut(NS, key('m', T0 / MINUTE + b), big);
    });
    const retention = store.retention();
    const full = retention.usage();
    expect(full.incrementalVacuum).toBe(true);
    while (retention.pruneNamespace(NS, [minuteRule], T0 + 3000 * MINUTE, 500) === 500);
    expect(retention.usage().freeBytes).toBeGreaterThan(full.sizeBytes / 2);
    let reclaimed = 0;
    for (let n = retention.reclaim(256); n > 0; n = retention.reclaim(256)) reclaimed += n;
    expect(reclaimed).toBeGreaterThan(0);
    expect(retention.usage().sizeBytes).toBeLessThan(full.sizeBytes / 4);
    expect(store.integrityCheck()).toBe('ok');
  });

  it('converts a database made before incremental vacuum, when small enough', () => {
    const path = join(tempDir('legacy'), 'edgeagg.db');
    const legacy = new Database(path);
    legacy.pragma('journal_mode = WAL');
    legacy.close();
    const store = open(path);
    const retention = store.retention();
    expect(retention.usage().incrementalVacuum).toBe(false);
    expect(retention.enableIncrementalVacuum(0)).toBe(false); // larger than allowed: left as it is
    expect(retention.enableIncrementalVacuum(1 << 30)).toBe(true);
    expect(retention.usage().incrementalVacuum).toBe(true);
  });

  it('a size budget refuses growth with disk_full and lets it go on once lifted', () => {
    const store = open();
    const retention = store.retention();
    retention.limitSize(retention.usage().sizeBytes + 8 * 1024);
    const put = (b: number) => store.kvPut(NS, key('m', b), Buffer.alloc(900, 1));
    let error: unknown;
    for (let b = 0; b < 100 && error === undefined; b++) {
      try {
        put(b);
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('disk_full');
    retention.limitSize(0);
    put(1000);
    expect(store.integrityCheck()).toBe('ok');
  });
});

describe('the manifest field', () => {
  const key = generateSigningKey();
  const sign = (retention: unknown) =>
    signModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), { name: 'agg', version: '1', limits: {}, capabilities: ['kv'], retention } as never, key.privateKeyPem);

  it('is signed into the manifest', () => {
    const rules = [{ prefix: 'm', unit_ms: 60000, keep: 'minute' as const }];
    expect(sign(rules).manifest.retention).toEqual(rules);
    expect(sign(undefined).manifest).not.toHaveProperty('retention');
  });

  it.each([
    ['not a list', { prefix: 'm' }],
    ['an empty prefix', [{ prefix: '', unit_ms: 1, keep: 'minute' }]],
    ['a zero unit', [{ prefix: 'm', unit_ms: 0, keep: 'minute' }]],
    ['an unknown class', [{ prefix: 'm', unit_ms: 1, keep: 'day' }]],
    ['overlapping prefixes', [{ prefix: 'm', unit_ms: 1, keep: 'minute' }, { prefix: 'mx', unit_ms: 1, keep: 'hour' }]],
    ['an unknown field', [{ prefix: 'm', unit_ms: 1, keep: 'minute', extra: 1 }]],
  ])('refuses %s', (_what, retention) => {
    expect(() => sign(retention)).toThrow(ModuleLoadError);
  });
});
