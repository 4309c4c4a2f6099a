/**
 * The outbox publisher against a real store and a stand-in for JetStream that acknowledges, refuses or
 * fails on demand: every entry is published, in order, exactly until JetStream acknowledged it, and only
 * acknowledged entries leave the outbox.
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { OutboxPublisher } from '../../src/replication/publisher.js';
import { decodeEvent } from '../../src/replication/codec.js';
import { ORIGIN_HEADER } from '../../src/replication/subjects.js';
import { sleep, until } from '../helpers/poll.js';

const T0 = Date.UTC(2026, 0, 15, 12);
const logger = createLogger('error');

/** Records publishes; `fail` decides, per message, whether the "server" refuses it. */
function fakeJetStream(fail: (n: number) => boolean = () => false) {
  const published: Array<{ subject: string; msgID: string; origin: string | undefined; source: string }> = [];
  let n = 0;
  const js = {
    publish: async (subject: string, data: Uint8Array, options: { msgID: string; headers: { get(k: string): string } }): Promise<PubAck> => {
      await new Promise((r) => setImmediate(r));
      if (fail(n++)) throw new Error('no responders: JetStream is not available');
      published.push({ subject, msgID: options.msgID, origin: options.headers.get(ORIGIN_HEADER), source: decodeEvent(data).source });
      return { stream: 'EDGEAGG_EVENTS', seq: published.length, duplicate: false } as PubAck;
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

function append(store: SqliteStore, from: number, count: number): void {
  store.transaction(() => {
    for (let i = from; i < from + count; i++) {
      store.appendEvent('aggregator', { partition: 'eu-west', source: `d-${i}`, timeMs: T0 + i, payload: new Uint8Array(8) });
    }
  });
}

describe('the outbox publisher', () => {
  it('publishes every entry once, with its message id and origin (regression: SQLite numbers entries from 1 again once the outbox is empty)', async () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const { js, published } = fakeJetStream();
    // Deletes as soon as anything is acknowledged, so the outbox empties between bursts.
    const publisher = new OutboxPublisher({ store, nodeId: 'n1', logger, batchSize: 7, deleteAfterEntries: 1 });
    const stop = new AbortController();
    const running = publisher.run(js, stop.signal);
    let sent = 0;
    for (const burst of [5, 20, 1, 13]) {
      append(store, sent, burst);
      sent += burst;
      publisher.notify();
      await until(() => published.length === sent && store.outboxDepth() === 0, { timeoutMs: 5_000, intervalMs: 5, message: () => `${published.length} of ${sent}` });
    }
    stop.abort();
    await running;
    expect(published.map((p) => p.source)).toEqual(Array.from({ length: sent }, (_, i) => `d-${i}`));
    expect(published[0]).toEqual({ subject: 'edgeagg.events.aggregator.eu-west', msgID: `aggregator.d-0.${T0}`, origin: 'n1', source: 'd-0' });
    expect(publisher.stats.published).toBe(sent);
    store.close();
  });

  it('keeps what JetStream did not acknowledge, and sends it again after a backoff', async () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    // The 4th to 9th publishes fail (JetStream down for a while).
    const { js, published } = fakeJetStream((n) => n >= 3 && n < 9);
    const publisher = new OutboxPublisher({ store, nodeId: 'n1', logger, batchSize: 5, deleteAfterEntries: 1 });
    const stop = new AbortController();
    const running = publisher.run(js, stop.signal);
    append(store, 0, 10);
    publisher.notify();
    await until(() => store.outboxDepth() === 0, { timeoutMs: 10_000, intervalMs: 5, message: () => `${published.length} published` });
    stop.abort();
    await running;
    // Each entry is acknowledged once; the ones after a refused publish in its batch were sent again.
    expect([...new Set(published.map((p) => p.source))].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `d-${i}`).sort());
    expect(publisher.stats.failures).toBeGreaterThan(0);
    store.close();
  });

  it('publishes an entry only once its commit is durable (regression: the poll could send a reading before its fsync)', async () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const { js, published } = fakeJetStream();
    // A WAL sync that completes only when the test says so.
    const syncs: Array<() => void> = [];
    const durable = () => new Promise<void>((resolve) => syncs.push(resolve));
    const publisher = new OutboxPublisher({ store, nodeId: 'n1', logger, durable, deleteAfterEntries: 1 });
    const stop = new AbortController();
    const running = publisher.run(js, stop.signal);
    append(store, 0, 3);
    publisher.notify();
    await until(() => syncs.length === 1, { timeoutMs: 5_000, intervalMs: 5, message: 'no sync asked for' });
    // Committed after the sync was asked for: not covered by it.
    append(store, 3, 2);
    await sleep(50);
    expect(published).toEqual([]);
    syncs.shift()!();
    await until(() => published.length === 3, { timeoutMs: 5_000, intervalMs: 5, message: () => `${published.length} published` });
    expect(published.map((p) => p.source)).toEqual(['d-0', 'd-1', 'd-2']);
    // The next round syncs again before it sends the later two.
    await until(() => syncs.length === 1, { timeoutMs: 5_000, intervalMs: 5, message: 'no second sync' });
    expect(published).toHaveLength(3);
    syncs.shift()!();
    await until(() => published.length === 5, { timeoutMs: 5_000, intervalMs: 5, message: () => `${published.length} published` });
    stop.abort();
    await running;
    store.close();
  });

  it('counts as depth only what is not acknowledged', async () => {
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const { js } = fakeJetStream();
    const publisher = new OutboxPublisher({ store, nodeId: 'n1', logger, deleteAfterEntries: 1_000_000, deleteAfterMs: 1_000_000 });
    append(store, 0, 30);
    expect(publisher.depth()).toBe(30);
    const stop = new AbortController();
    const running = publisher.run(js, stop.signal);
    await until(() => publisher.depth() === 0, { timeoutMs: 5_000, intervalMs: 5, message: () => String(publisher.depth()) });
    // Acknowledged, not yet deleted: still in the table, not in the depth.
    expect(store.outboxDepth()).toBe(30);
    stop.abort();
    await running;
    publisher.flush();
    expect(store.outboxDepth()).toBe(0);
    store.close();
  });
});
