/**
 * What replication keeps in the SQLite store: the outbox (local events only, in the transaction of their
 * insert, rolled back with it), the digests (every new event, equal to a direct computation and to a
 * rebuild from the log), and nothing at all when replication is off.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore, eventHash } from '../../src/store/index.js';
import type { StoredEvent } from '../../src/runtime/index.js';
import { differingBuckets, digestEvents } from '../../src/replication/index.js';
import { tempDir } from '../helpers/temp-dirs.js';

function tempPath(): string {
  return join(tempDir('repl-store'), 'store.db');
}

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
function event(source: string, timeMs: number, partition = 'eu-west', value = 21.5): StoredEvent {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setFloat64(0, value, true);
  return { partition, source, timeMs, payload };
}
const sortDigests = <T extends { bucket: number; partition: string }>(d: T[]): T[] =>
  [...d].sort((a, b) => a.bucket - b.bucket || (a.partition < b.partition ? -1 : 1));

describe('the outbox', () => {
  it('holds the identity of every new local event, in commit order, and never a replicated one', () => {
    const store = SqliteStore.open({ path: tempPath(), replication: true });
    expect(store.appendEvent('aggregator', event('a', T0 + 5))).toBe('new');
    expect(store.appendEvent('aggregator', event('b', T0))).toBe('new');
    expect(store.appendEvent('aggregator', event('a', T0 + 5))).toBe('duplicate');
    expect(store.appendReplicatedEvent('aggregator', event('c', T0 + 1))).toBe('new');
    expect(store.appendEvent('aggregator', event('c', T0 + 1))).toBe('duplicate');
    const entries = store.readOutbox(0, 10);
    expect(entries.map((e) => [e.stream, e.event?.source, e.event?.timeMs, e.event?.partition])).toEqual([
      ['aggregator', 'a', T0 + 5, 'eu-west'],
      ['aggregator', 'b', T0, 'eu-west'],
    ]);
    expect(Buffer.from(entries[0]!.event!.payload)).toEqual(Buffer.from(event('a', 0).payload));
    expect(store.outboxDepth()).toBe(2);
    expect(store.readOutbox(entries[0]!.seq, 10).map((e) => e.event?.source)).toEqual(['b']);
    expect(store.deleteOutboxThrough(entries[0]!.seq)).toBe(1);
    expect(store.outboxDepth()).toBe(1);
    expect(store.deleteOutboxThrough(entries[1]!.seq)).toBe(1);
    expect(store.outboxDepth()).toBe(0);
    store.close();
  });

  it('is written in the transaction of the insert: a rolled-back call leaves no entry', () => {
    const store = SqliteStore.open({ path: tempPath(), replication: true });
    store.transaction(() => {
      store.atomically(() => store.appendEvent('aggregator', event('kept', T0)));
      expect(() =>
        store.atomically(() => {
          store.appendEvent('aggregator', event('undone', T0 + 1));
          throw new Error('the guest trapped');
        }),
      ).toThrow('trapped');
    });
    expect(store.readOutbox(0, 10).map((e) => e.event?.source)).toEqual(['kept']);
    expect(store.eventDigests('aggregator', { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 })).toEqual(digestEvents([event('kept', T0)], 'minute'));
    store.close();
  });

  it('survives a restart, and keeps positions after it was emptied', () => {
    const path = tempPath();
    let store = SqliteStore.open({ path, replication: true });
    store.appendEvent('aggregator', event('a', T0));
    const [first] = store.readOutbox(0, 10);
    store.deleteOutboxThrough(first!.seq);
    store.appendEvent('aggregator', event('b', T0 + 1));
    store.close();
    store = SqliteStore.open({ path, replication: true });
    expect(store.readOutbox(0, 10).map((e) => e.event?.source)).toEqual(['b']);
    store.close();
  });

  it('is not written, nor are digests, when replication is off: a node alone writes what it wrote before', () => {
    const path = tempPath();
    const store = SqliteStore.open({ path });
    store.appendEvent('aggregator', event('a', T0));
    store.appendReplicatedEvent('aggregator', event('b', T0));
    expect(store.replication).toBe(false);
    expect(store.outboxDepth()).toBe(0);
    store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM replication_outbox').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM replication_digest').pluck().get()).toBe(0);
    db.close();
  });
});

describe('the digests', () => {
  const eventsArb = fc.uniqueArray(
    fc.record({
      source: fc.constantFrom('s-1', 's-2', 'sensor.ä', 's_4'),
      offset: fc.integer({ min: 0, max: 3 * 3_600_000 }),
      partition: fc.constantFrom('eu-west', 'eu-west.lab', 'us'),
      value: fc.double({ min: -50, max: 50, noNaN: true }),
      replicated: fc.boolean(),
    }),
    { maxLength: 80, selector: (e) => `${e.source}:${e.offset}` },
  );

  it('equal a direct computation, whichever way the events arrived, and a rebuild from the log', () => {
    fc.assert(
      fc.property(eventsArb, (spec) => {
        const store = SqliteStore.open({ path: ':memory:', replication: true });
        const events = spec.map((s) => event(s.source, T0 + s.offset, s.partition, s.value));
        spec.forEach((s, i) => (s.replicated ? store.appendReplicatedEvent('aggregator', events[i]!) : store.appendEvent('aggregator', events[i]!)));
        const range = { fromMinute: 0, toMinute: 2 ** 40 };
        for (const level of ['minute', 'hour'] as const) {
          expect(sortDigests(store.eventDigests('aggregator', { level, ...range }))).toEqual(sortDigests(digestEvents(events, level)));
        }
        const one = store.eventDigests('aggregator', { level: 'hour', ...range, partition: 'eu-west' });
        expect(sortDigests(one)).toEqual(sortDigests(digestEvents(events.filter((e) => e.partition === 'eu-west'), 'hour')));
        const incremental = store.eventDigests('aggregator', { level: 'minute', ...range });
        const t0Minute = Math.floor(T0 / 60_000);
        for (let m = t0Minute; m < t0Minute + 200; m += 7) store.rebuildDigests('aggregator', m, m + 7);
        expect(sortDigests(store.eventDigests('aggregator', { level: 'minute', ...range }))).toEqual(sortDigests(incremental));
        store.close();
      }),
      { numRuns: 50 },
    );
  });

  it('tell sets apart: one event more, or another payload under the same identity, differs', () => {
    const a = [event('s', T0), event('t', T0 + 1)];
    expect(differingBuckets(digestEvents(a, 'minute'), digestEvents(a, 'minute'))).toEqual([]);
    expect(differingBuckets(digestEvents(a, 'minute'), digestEvents([...a, event('u', T0 + 2)], 'minute'))).toHaveLength(1);
    expect(differingBuckets(digestEvents(a, 'minute'), digestEvents([a[0]!, event('t', T0 + 1, 'eu-west', 99)], 'minute'))).toHaveLength(1);
    expect(differingBuckets(digestEvents(a, 'minute'), [])).toEqual([{ partition: 'eu-west', bucket: Math.floor(T0 / 60_000) }]);
    expect(eventHash(event('s', T0))).toEqual(eventHash(event('s', T0)));
    expect(eventHash(event('s', T0))).not.toEqual(eventHash(event('s', T0, 'us')));
  });

  it('are marked stale when a store without replication opens the database, and complete after a rebuild', () => {
    const path = tempPath();
    let store = SqliteStore.open({ path, replication: true });
    expect(store.digestsComplete()).toBe(false);
    store.markDigestsComplete(0);
    expect(store.digestsComplete()).toBe(true);
    store.close();
    store = SqliteStore.open({ path });
    store.appendEvent('aggregator', event('written-alone', T0));
    store.close();
    store = SqliteStore.open({ path, replication: true });
    expect(store.digestsComplete()).toBe(false);
    expect(store.eventDigests('aggregator', { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 })).toEqual([]);
    const m = Math.floor(T0 / 60_000);
    expect(store.rebuildDigests('aggregator', m - 5, m + 5)).toBe(1);
    expect(store.eventDigests('aggregator', { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 })).toEqual(digestEvents([event('written-alone', T0)], 'minute'));
    store.close();
  });

  it('are pruned before a minute', () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    store.appendEvent('aggregator', event('old', T0));
    store.appendEvent('aggregator', event('new', T0 + 3_600_000));
    store.pruneDigests('aggregator', Math.floor((T0 + 60_000) / 60_000));
    expect(store.eventDigests('aggregator', { level: 'minute', fromMinute: 0, toMinute: 2 ** 40 }).map((d) => d.count)).toEqual([1]);
    store.close();
  });
});

describe('range reads', () => {
  it('page through one partition in (time, source) order', () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const events = [event('b', T0), event('a', T0), event('c', T0 + 1, 'us'), event('d', T0 + 2), event('e', T0 + 60_000)];
    for (const e of events) store.appendEvent('aggregator', e);
    const first = store.readEventsInRange('aggregator', { fromMs: T0, toMs: T0 + 60_000, partition: 'eu-west', limit: 2 });
    expect(first.events.map((e) => e.source)).toEqual(['a', 'b']);
    const second = store.readEventsInRange('aggregator', { fromMs: T0, toMs: T0 + 60_000, partition: 'eu-west', limit: 2, after: first.next });
    expect(second.events.map((e) => e.source)).toEqual(['d']);
    expect(second.next).toBeUndefined();
    expect(store.readEventsInRange('aggregator', { fromMs: T0, toMs: T0 + 60_000 }).events.map((e) => e.source)).toEqual(['a', 'b', 'c', 'd']);
    store.close();
  });
});
