/**
 * Issue 16.4 (no per-client limits): the token bucket under a controlled clock. Over any schedule of
 * requests, what it lets through in a span of T ms is at most burst + rate × T, and a refused request
 * is told a wait after which it does pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteBudget, RateLimiter, TokenBucket } from '../../src/resilience/index.js';

/** A clock the test moves. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const schedule = fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 2_000 }), cost: fc.integer({ min: 1, max: 500 }) }), { maxLength: 200 });

describe('TokenBucket', () => {
  it('never lets through more than burst + rate × elapsed, whatever the schedule', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 10_000 }), schedule, (rate, burst, steps) => {
        const clock = manualClock();
        const bucket = new TokenBucket({ ratePerSecond: rate, burst, now: clock.now });
        let passed = 0;
        let elapsed = 0;
        for (const { gapMs, cost } of steps) {
          clock.advance(gapMs);
          elapsed += gapMs;
          if (bucket.take(cost) === 0) passed += Math.min(cost, burst);
          expect(passed).toBeLessThanOrEqual(burst + (rate * elapsed) / 1000 + 1e-6);
        }
      }),
    );
  });

  it('a refused take is told a wait after which the same take passes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 10_000 }), schedule, fc.integer({ min: 1, max: 20_000 }), (rate, burst, steps, cost) => {
        const clock = manualClock();
        const bucket = new TokenBucket({ ratePerSecond: rate, burst, now: clock.now });
        for (const s of steps) {
          clock.advance(s.gapMs);
          bucket.take(s.cost);
        }
        const wait = bucket.take(cost);
        if (wait === 0) return;
        expect(wait).toBeGreaterThan(0);
        clock.advance(wait);
        expect(bucket.take(cost)).toBe(0);
      }),
    );
  });

  it('refills with time only (a clock stepping back adds nothing), and starts full', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 20, now: clock.now });
    expect(bucket.take(20)).toBe(0);
    expect(bucket.take(1)).toBe(100);
    clock.advance(-5_000);
    expect(bucket.available).toBe(0);
    clock.advance(1_000);
    expect(bucket.available).toBe(10);
    clock.advance(60_000);
    expect(bucket.available).toBe(20);
  });
});

describe('RateLimiter', () => {
  it('keeps one bucket per key, and forgets full buckets when it grows past maxKeys', () => {
    const clock = manualClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 3, now: clock.now });
    expect(limiter.take('a', 1)).toBe(0);
    expect(limiter.take('a', 1)).toBeGreaterThan(0);
    expect(limiter.take('b', 1)).toBe(0);
    limiter.take('c', 1);
    clock.advance(10_000);
    limiter.take('d', 1);
    expect(limiter.size).toBe(1);
  });
});

describe('ByteBudget', () => {
  it('holds at most its limit, and what is given back can be taken again', () => {
    const budget = new ByteBudget(100);
    expect(budget.tryTake(60)).toBe(true);
    expect(budget.tryTake(50)).toBe(false);
    budget.give(60);
    expect(budget.tryTake(100)).toBe(true);
    expect(budget.inUse).toBe(100);
    expect(budget.refused).toBe(1);
  });
});
