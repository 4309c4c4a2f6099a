/**
 * The fold may lag the event log (src/ingest/ingest-pipeline.ts): with the real aggregator guest on a real
 * SqliteStore, a deferred fold is recorded in the fold journal, a read folds what waits first, a restart folds
 * what a crash left (once), the result is byte for byte the fold of every group in its own transaction, and
 * events the guest cannot fold are isolated and kept.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestPipeline, MAX_UNFOLDED, type FoldJournal } from '../../src/ingest/index.js';
import { StoreUnavailableError, type StoredEvent } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Reading } from '../../src/client/index.js';
import { loadTestGuest, loadWasm, wat } from '../helpers/guests.js';
import { until } from '../helpers/poll.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

const STREAM = 'aggregator';
const MINUTE = 60_000;
const BASE = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
const LONG = 600_000; // a fold delay no test waits for

function tempDb(): string {
  return join(tempDir('fold'), 'edgeagg.db');
}

function journalOf(store: SqliteStore, stream = STREAM): FoldJournal {
  return store.foldJournal(stream);
}

/** The node's write path on `path`: the aggregator, a SqliteStore, the pipeline with its journal. */
async function rig(path: string, foldDelayMs: number, journal?: (store: SqliteStore) => FoldJournal) {
  const store = SqliteStore.open({ path, synchronous: 'normal' });
  defer(() => store.close());
  const module = await loadTestGuest('aggregator', { store });
  const folded: string[][] = [];
  const failures: Array<{ events: readonly StoredEvent[]; retry: boolean }> = [];
  const pipeline = new IngestPipeline({
    store,
    module,
    journal: (journal ?? journalOf)(store),
    foldDelayMs,
    onFolded: (partitions) => folded.push([...partitions].sort()),
    onFoldFailed: (_error, events, retry) => failures.push({ events, retry }),
  });
  const post = async (readings: Reading[]) => {
    const res = await pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: '' }, body: Buffer.from(JSON.stringify(readings)) });
    expect(res.status).toBe(200);
    return res;
  };
  const get = (path: string) => module.invokeHttp({ method: 'GET', path, query: '', contentType: '', principal: { kind: 'read', subject: '' }, body: new Uint8Array(0) });
  /** What a client reads: through the pipeline, which folds first. */
  const counts = (): Record<string, number> => {
    const res = pipeline.read(() => get('/v1/regions'));
    const regions = (JSON.parse(Buffer.from(res.body).toString('utf8')) as { regions: Array<{ region: string; count: number }> }).regions;
    return Object.fromEntries(regions.map((r) => [r.region, r.count]));
  };
  /**
   * Every aggregate record, as stored (no fold first). The region registry (`#regions` and `r<region>`,
   * guests/aggregator/registry.ts) is written when a reading is appended, not by the fold: left out.
   */
  const kvDump = (): string[] =>
    store
      .kvList(module.namespace, new Uint8Array(0), undefined, 1_000_000)
      .filter((k) => k[0] !== 0x23 /* # */ && k[0] !== 0x72 /* r */)
      .map((k) => `${Buffer.from(k).toString('hex')}=${Buffer.from(store.kvGet(module.namespace, k)!).toString('hex')}`);
  /** A crash: the process is gone, nothing drained or folded; only what was committed remains. */
  const crash = () => store.close();
  return { store, module, pipeline, post, counts, kvDump, crash, folded, failures, journal: () => store.foldJournal(STREAM).load() };
}

function reading(i: number, region = `r${i % 3}`): Reading {
  return { device_id: `dev-${i % 7}`, region, temperature_c: ((i * 37) % 500) / 10 - 10, timestamp: BASE + i * 1_000 };
}

describe('a deferred fold', () => {
  it('is recorded in the journal, not in the aggregates, until a read folds it first', async () => {
    const n = await rig(tempDb(), LONG);
    await n.post([reading(0), reading(1), reading(2)]);
    await n.post([reading(3), reading(1)]); // one duplicate
    expect(n.journal().map((e) => e.timeMs)).toEqual([0, 1, 2, 3].map((i) => BASE + i * 1_000));
    expect(n.kvDump()).toEqual([]);
    expect(n.counts()).toEqual({ r0: 2, r1: 1, r2: 1 });
    expect(n.journal()).toEqual([]);
    expect(n.folded).toEqual([['r0', 'r1', 'r2']]);
    // Nothing waits any more: the next read folds nothing.
    expect(n.counts()).toEqual({ r0: 2, r1: 1, r2: 1 });
    expect(n.folded).toHaveLength(1);
  });

  it(`is made by a commit group once ${MAX_UNFOLDED} events wait, whatever their age`, async () => {
    const n = await rig(tempDb(), LONG);
    await n.post(Array.from({ length: MAX_UNFOLDED - 1 }, (_, i) => reading(i)));
    expect(n.journal()).toHaveLength(MAX_UNFOLDED - 1);
    await n.post([reading(MAX_UNFOLDED - 1)]);
    expect(n.journal()).toEqual([]);
    expect(n.kvDump().length).toBeGreaterThan(0);
    expect(Object.values(n.counts()).reduce((a, b) => a + b, 0)).toBe(MAX_UNFOLDED);
  });

  it('is made by a timer after the delay, with no read and no further write', async () => {
    const n = await rig(tempDb(), 20);
    await n.post([reading(0), reading(1)]);
    await until(() => n.folded.length > 0, { timeoutMs: 2_000, intervalMs: 10, message: 'no timed fold' });
    expect(n.folded).toEqual([['r0', 'r1']]);
    expect(n.journal()).toEqual([]);
    expect(n.kvDump().length).toBeGreaterThan(0);
  });

  it('left by a crash is folded after the restart, exactly once', async () => {
    const path = tempDb();
    const first = await rig(path, LONG);
    await first.post([reading(0), reading(1), reading(2), reading(3)]);
    first.crash();
    const second = await rig(path, LONG);
    expect(second.journal()).toHaveLength(4);
    expect(second.counts()).toEqual({ r0: 2, r1: 1, r2: 1 });
    second.crash();
    const third = await rig(path, LONG);
    expect(third.journal()).toEqual([]);
    expect(third.counts()).toEqual({ r0: 2, r1: 1, r2: 1 });
  });

  it('gives byte for byte the aggregates of folding every group at once, whatever the reads, groups and crashes', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('post' as const), readings: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 }), together: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('read' as const) }),
      fc.record({ kind: fc.constant('crash' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const eager = await rig(tempDb(), 0);
        const path = tempDb();
        let lazy = await rig(path, LONG);
        for (const s of steps) {
          if (s.kind === 'read') lazy.counts();
          else if (s.kind === 'crash') {
            lazy.crash();
            lazy = await rig(path, LONG);
          } else {
            // `together` requests submitted in one turn: one commit group.
            const parts = Array.from({ length: s.together }, (_, k) => s.readings.filter((_r, i) => i % s.together === k).map((i) => reading(i)));
            const nonEmpty = parts.filter((p) => p.length > 0);
            await Promise.all(nonEmpty.map((p) => eager.post(p)));
            await Promise.all(nonEmpty.map((p) => lazy.post(p)));
          }
        }
        expect(lazy.counts()).toEqual(eager.counts());
        expect(lazy.kvDump()).toEqual(eager.kvDump());
        eager.crash();
        lazy.crash();
      }),
      { numRuns: 20 },
    );
  }, 60_000);
});

describe('when the fold fails', () => {
  /**
   * A real guest (WebAssembly text) whose fold records each event's source as a kv key, and traps on any
   * event whose source starts with "b".
   */
  const FAULTY_FOLD = `(module
    (import "ea" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1 4)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "ea_alloc") (param $len i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $heap))
      (global.set $heap (i32.add (global.get $heap) (local.get $len)))
      (local.get $p))
    (func (export "ea_on_events") (param $ptr i32) (param $len i32) (result i32)
      (local $n i32) (local $p i32) (local $src i32) (local $srcLen i32)
      (local.set $n (i32.load (local.get $ptr)))
      (local.set $p (i32.add (local.get $ptr) (i32.const 4)))
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $p (i32.add (i32.add (local.get $p) (i32.const 2)) (i32.load16_u (local.get $p)))) ;; partition
          (local.set $srcLen (i32.load16_u (local.get $p)))
          (local.set $src (i32.add (local.get $p) (i32.const 2)))
          (if (i32.eq (i32.load8_u (local.get $src)) (i32.const 98)) (then unreachable)) ;; "b..."
          (drop (call $kv_put (local.get $src) (local.get $srcLen) (local.get $src) (local.get $srcLen)))
          (local.set $p (i32.add (i32.add (local.get $src) (local.get $srcLen)) (i32.const 8))) ;; source, time
          (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p)))) ;; payload
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $next)))
      (i32.const 0)))`;

  /** The write path with that guest: events arrive as from another node (`submitEvents`). */
  async function faultyRig(path: string) {
    const store = SqliteStore.open({ path, synchronous: 'normal' });
    defer(() => store.close());
    const calls: number[] = [];
    const module = await loadWasm(wat(FAULTY_FOLD), { store, name: 'faulty', capabilities: ['kv', 'events'], onCall: (r) => r.trigger === 'events' && calls.push(1) });
    const failures: Array<{ sources: string[]; retry: boolean }> = [];
    const pipeline = new IngestPipeline({
      store,
      module,
      journal: journalOf(store, module.name),
      foldDelayMs: LONG,
      onFoldFailed: (_e, events, retry) => failures.push({ sources: events.map((e) => e.source), retry }),
    });
    const submit = (sources: string[]) =>
      pipeline.submitEvents(
        sources.map((source, i) => ({ partition: 'p', source, timeMs: BASE + i, payload: Buffer.from([1]) })),
        (e) => store.appendEvent(module.name, e),
      );
    const folded = () => store.kvList(module.namespace, new Uint8Array(0), undefined, 1000).map((k) => Buffer.from(k).toString('utf8')).sort();
    const journal = () => store.foldJournal(module.name).load().map((e) => e.source);
    return { store, pipeline, submit, folded, journal, calls, failures };
  }

  it('folds every other event, and keeps the ones the guest fails on in the journal for the next start', async () => {
    const path = tempDb();
    const n = await faultyRig(path);
    await n.submit(['a', 'c', 'bad', 'd', 'e', 'f', 'g', 'h']);
    expect(n.journal()).toHaveLength(8);
    n.pipeline.foldNow();
    expect(n.folded()).toEqual(['a', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(n.failures).toEqual([{ sources: ['bad'], retry: false }]);
    // Isolation is a bisection: 1 + 2 log2(8) calls here, not one per event.
    expect(n.calls.length).toBeLessThanOrEqual(7);
    expect(n.journal()).toEqual(['bad']);
    // Later folds keep it recorded (and do not try it again in this process).
    await n.submit(['i']);
    n.calls.length = 0;
    n.pipeline.foldNow();
    expect(n.calls).toHaveLength(1);
    expect(n.folded()).toContain('i');
    expect(n.failures).toHaveLength(1);
    expect(n.journal()).toEqual(['bad']);
    // The next start (a fixed guest, say) gets it back.
    n.store.close();
    const again = await faultyRig(path);
    expect(again.journal()).toEqual(['bad']);
  });

  it('keeps reads exact while the store refuses the fold (a full disk), and folds once it takes it again', async () => {
    let refuse = false;
    const n = await rig(tempDb(), LONG, (store) => ({
      append: (events) => journalOf(store).append(events),
      load: () => journalOf(store).load(),
      clear: () => {
        if (refuse) throw new StoreUnavailableError('database or disk is full', 'disk_full');
        store.foldJournal(STREAM).clear();
      },
    }));
    await n.post([reading(0), reading(1)]);
    refuse = true;
    expect(n.counts()).toEqual({ r0: 1, r1: 1 });
    expect(n.counts()).toEqual({ r0: 1, r1: 1 });
    // Reported once while the store keeps refusing, not once per read.
    expect(n.failures.map((f) => [f.events.length, f.retry])).toEqual([[2, true]]);
    // The read's fold was rolled back: nothing stored, the events still wait.
    expect(n.kvDump()).toEqual([]);
    expect(n.journal()).toHaveLength(2);
    refuse = false;
    expect(n.counts()).toEqual({ r0: 1, r1: 1 });
    expect(n.journal()).toEqual([]);
    expect(n.kvDump().length).toBeGreaterThan(0);
  });

  it('tries a timed fold the store refused again later, by itself', async () => {
    let refuse = true;
    const n = await rig(tempDb(), 20, (store) => ({
      append: (events) => journalOf(store).append(events),
      load: () => journalOf(store).load(),
      clear: () => {
        if (refuse) throw new StoreUnavailableError('database or disk is full', 'disk_full');
        store.foldJournal(STREAM).clear();
      },
    }));
    await n.post([reading(0)]);
    await until(() => n.failures.length > 0, { timeoutMs: 2_000, intervalMs: 10, message: 'the refused fold was not reported' });
    expect(n.failures.map((f) => f.retry)).toEqual([true]);
    refuse = false;
    await until(() => n.folded.length > 0, { timeoutMs: 5_000, intervalMs: 10, message: 'the refused fold was not tried again' });
    expect(n.folded).toEqual([['r0']]);
    expect(n.journal()).toEqual([]);
  });
});
