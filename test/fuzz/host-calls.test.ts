/**
 * Host-call fuzzing: a million calls of every host import with pseudo-random pointers, lengths and
 * values (guests/hostile/call-fuzz.wat). Every one is answered with a value or an ABI error; nothing
 * escapes the host but the GuestCallError of a guest call refused on purpose; the module keeps
 * working; and the process does not grow.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/runtime/index.js';
import { FUZZED_IMPORTS, emptyTally, fuzzCall, loadCallFuzz } from './host-call-fuzzer.js';

// About 2.5 µs a host call: the full million takes a few seconds.
const TOTAL_CALLS = Number(process.env.FUZZ_HOST_CALLS ?? 1_000_000);
const CALLS_PER_GUEST_CALL = 1_000;
/** One guest call in this many is kept (committed); the others are rolled back, so the store stays small. */
const KEEP_EVERY = 50;
const MiB = 1024 * 1024;

describe('host-call fuzzing', () => {
  it(`answers ${TOTAL_CALLS} random host calls without an escape or growth`, async () => {
    const store = new MemoryStore();
    const mod = await loadCallFuzz(store);
    // Warm up (compilation, instance pool, JIT) before measuring memory.
    const warm = emptyTally();
    for (let i = 0; i < 20; i++) fuzzCall(mod, 0x5eed + i, CALLS_PER_GUEST_CALL, -1, false, warm);
    const before = process.memoryUsage();

    const tally = emptyTally();
    const guestCalls = Math.ceil(TOTAL_CALLS / CALLS_PER_GUEST_CALL);
    let kept = 0;
    for (let i = 0; i < guestCalls; i++) {
      // Every import on its own in turn, and all of them mixed (-1).
      const only = (i % (FUZZED_IMPORTS.length + 1)) - 1;
      const keep = i % KEEP_EVERY === 0;
      if (keep) kept++;
      fuzzCall(mod, 16 + i * 7919, CALLS_PER_GUEST_CALL, only, keep, tally);
    }
    const after = process.memoryUsage();

    expect(tally.escaped).toEqual([]);
    expect(tally.calls).toBe(guestCalls * CALLS_PER_GUEST_CALL);
    // Kept calls answer every host call with a value or an ABI error code (-7..-1), never anything else.
    expect(tally.ok + tally.abiErrors).toBe(kept * CALLS_PER_GUEST_CALL);
    expect(tally.other).toBe(0);
    expect(tally.ok).toBeGreaterThan(0);
    expect(tally.callErrors).toEqual({ guest_bad_response: guestCalls - kept });

    // The module still serves, and only kept calls left anything behind.
    const check = emptyTally();
    fuzzCall(mod, 1, 0, -1, true, check);
    expect(check).toMatchObject({ ok: 0, abiErrors: 0, other: 0, callErrors: {}, escaped: [] });

    // Generous: garbage not yet collected comes and goes; a leak per call (a million calls) would not fit.
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * MiB);
    expect(after.rss - before.rss).toBeLessThan(256 * MiB);
  }, 30_000);
});
