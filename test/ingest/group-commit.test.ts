/**
 * Group commit (src/ingest/group-commit.ts) and its commit window: an acknowledgement never goes out before
 * the fsync that covers its commit (promise 1: a 2xx means fsynced), a window never holds a job longer than
 * `windowMs`, and it ends early when waiting cannot gather more (`moreMayCome`; the node's signal, free client
 * connections, is tested in group-commit-clients.test.ts). The window's timers and clock are faked, so
 * "did not wait" is a fact of the fake clock, not a measured time; groups are flushed on real event-loop turns.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../src/ingest/group-commit.js';

/** A small fixed-seed generator: every run replays the same arrivals. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Real event-loop turns until `done()`, at most `max` of them. */
async function turnsUntil(done: () => boolean, max = 1_000): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await turn();
}

type Log = Array<{ at: number; what: 'commit' | 'sync-start' | 'sync-end' | 'ack' | 'submit'; jobs: number[] }>;

/** A group committer over jobs that are numbers, logging every step with the fake clock's time. */
function rig(windowMs: number, syncMs: () => number, options: { maxGroupSize?: number; moreMayCome?: (waiting: number) => boolean } = {}) {
  const log: Log = [];
  const groups: number[][] = [];
  const gc = new GroupCommit<number, number>({
    transaction: (fn) => fn(),
    execute: (jobs) => {
      groups.push([...jobs]);
      log.push({ at: performance.now(), what: 'commit', jobs: [...jobs] });
      return jobs;
    },
    sync: () => {
      // What this sync covers: every group committed before it started.
      const covered = log.filter((e) => e.what === 'commit').flatMap((e) => e.jobs);
      log.push({ at: performance.now(), what: 'sync-start', jobs: covered });
      const ms = syncMs();
      return new Promise<void>((resolve) => {
        const end = (): void => {
          log.push({ at: performance.now(), what: 'sync-end', jobs: covered });
          resolve();
        };
        // A sync of 0 ms takes a real turn, so the fake clock need not move for it.
        if (ms === 0) setImmediate(end);
        else setTimeout(end, ms);
      });
    },
    windowMs,
    ...options,
  });
  let inFlight = 0;
  const submit = (job: number): Promise<number> => {
    log.push({ at: performance.now(), what: 'submit', jobs: [job] });
    inFlight++;
    return gc.submit(job).then((r) => {
      inFlight--;
      log.push({ at: performance.now(), what: 'ack', jobs: [job] });
      return r;
    });
  };
  /** Jobs submitted and not yet acknowledged: a client's answer is on its way once its job is acknowledged. */
  return { gc, log, groups, submit, inFlight: () => inFlight };
}

describe('GroupCommit with a commit window', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('acknowledges a job only after an fsync that started after its commit ended, and holds no job longer than the window', async () => {
    const next = random(7);
    const windowMs = 50;
    const { log, groups, submit } = rig(windowMs, () => Math.floor(next() * 30));
    const acks: Promise<number>[] = [];
    // 300 arrivals, open loop, 0-40 ms apart: some windows run out, some gather many.
    const step = async (ms: number): Promise<void> => {
      // A millisecond at a time, with a real turn after each: a group flushes in the turn its window ends.
      for (let t = 0; t < ms; t++) {
        await vi.advanceTimersByTimeAsync(1);
        await turn();
        await turn();
      }
    };
    for (let i = 0; i < 300; i++) {
      acks.push(submit(i));
      await turn();
      await step(Math.floor(next() * 40));
    }
    await step(2 * windowMs);
    await turnsUntil(() => log.filter((e) => e.what === 'ack').length === 300);
    expect(await Promise.all(acks)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(groups.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(groups.some((g) => g.length > 1), 'the window gathered no group at all').toBe(true);

    for (let i = 0; i < 300; i++) {
      const committed = log.findIndex((e) => e.what === 'commit' && e.jobs.includes(i));
      const acked = log.findIndex((e) => e.what === 'ack' && e.jobs[0] === i);
      const covering = log.findIndex((e, k) => k > committed && e.what === 'sync-end' && e.jobs.includes(i));
      expect(covering, `job ${i}: no fsync covered its commit`).toBeGreaterThan(committed);
      expect(acked, `job ${i} was acknowledged before the fsync that covers it`).toBeGreaterThan(covering);
    }
    // The window is a bound: a group executes at most windowMs after its first job arrived.
    for (const group of groups) {
      const first = log.find((e) => e.what === 'submit' && e.jobs[0] === group[0])!.at;
      const commit = log.find((e) => e.what === 'commit' && e.jobs[0] === group[0])!.at;
      expect(commit - first).toBeLessThanOrEqual(windowMs);
    }
  });

  it('without a window, a group is what arrived in the same turn, acknowledged after its fsync', async () => {
    const { log, groups, submit } = rig(0, () => 5);
    const acks = [submit(1), submit(2), submit(3)];
    await turnsUntil(() => groups.length > 0);
    expect(groups).toEqual([[1, 2, 3]]);
    expect(log.some((e) => e.what === 'ack')).toBe(false);
    await vi.advanceTimersByTimeAsync(5);
    expect(await Promise.all(acks)).toEqual([1, 2, 3]);
  });

  it('ends the window early once no client is free to send: clients that wait for each answer are not delayed', async () => {
    const windowMs = 60_000;
    let connected = 4;
    // Four clients, each waiting for its answer before it sends again: more may come while one is free.
    const asked: number[] = [];
    const r = rig(windowMs, () => 0, {
      moreMayCome: (waiting) => {
        asked.push(waiting);
        return r.inFlight() < connected;
      },
    });
    const { groups, submit } = r;
    let acked = 0;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let n = 0; n < 50; n++) {
        await submit(c * 1_000 + n);
        acked++;
        // The clients come back at different moments, as over a network.
        for (let t = 0; t < c; t++) await turn();
      }
      connected--;
    });
    const started = performance.now();
    // 200 acknowledgements on real turns alone: no window waited for the fake clock.
    await turnsUntil(() => acked === 200, 10_000);
    expect(acked).toBe(200);
    expect(performance.now()).toBe(started);
    // The clients come back at different moments, yet each group waited for all of them (until some left).
    expect(groups.slice(0, 40).every((g) => g.length === 4), `groups: ${groups.map((g) => g.length).join(',')}`).toBe(true);
    // It is told how many jobs the group holds, the new one included.
    expect(asked.slice(0, 4)).toEqual([1, 2, 3, 4]);
    await Promise.all(clients);
  });

  it('keeps the window open while a client may still send, up to the window', async () => {
    const windowMs = 60_000;
    let free = true;
    const { groups, submit } = rig(windowMs, () => 0, { moreMayCome: () => free });
    const acks = [submit(1)];
    await turnsUntil(() => groups.length > 0, 20);
    expect(groups).toEqual([]);
    await vi.advanceTimersByTimeAsync(windowMs - 1);
    acks.push(submit(2));
    await turnsUntil(() => groups.length > 0, 20);
    expect(groups).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await turnsUntil(() => groups.length > 0);
    expect(groups).toEqual([[1, 2]]);
    await Promise.all(acks);
    // The last free client sends: nothing more can come, so its group goes at once.
    acks.push(submit(3));
    free = false;
    acks.push(submit(4));
    await turnsUntil(() => groups.length > 1, 20);
    expect(groups).toEqual([[1, 2], [3, 4]]);
    await Promise.all(acks);
  });

  it('ends the window at once when the group is full or the committer drains', async () => {
    const { gc, groups, submit } = rig(60_000, () => 0, { maxGroupSize: 3 });
    const acks = [submit(1), submit(2), submit(3)];
    await turnsUntil(() => groups.length > 0, 20);
    expect(groups).toEqual([[1, 2, 3]]);
    await Promise.all(acks);
    const late = submit(4);
    await turnsUntil(() => groups.length > 1, 10);
    expect(groups.length, 'a lone job should wait for its window').toBe(1);
    await gc.drain();
    expect(groups).toEqual([[1, 2, 3], [4]]);
    expect(await late).toBe(4);
  });
});
