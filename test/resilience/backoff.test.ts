import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffPolicy } from '../../src/resilience/index.js';

const policy: fc.Arbitrary<BackoffPolicy> = fc.record({
  initialMs: fc.integer({ min: 0, max: 10_000 }),
  maxMs: fc.integer({ min: 0, max: 120_000 }),
  multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});
const attempt = fc.integer({ min: 0, max: 5_000 });
const unit = fc.double({ min: 0, max: 1, noNaN: true });

describe('backoffDelay', () => {
  it('is a whole number of milliseconds within [0, maxMs], for any attempt however large', () => {
    fc.assert(
      fc.property(policy, attempt, unit, (p, n, r) => {
        const d = backoffDelay(p, n, () => r);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(p.maxMs);
      }),
    );
  });

  it('never shrinks from one attempt to the next for the same random draw (the cap only grows)', () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 200 }), unit, (p, n, r) => {
        expect(backoffDelay(p, n + 1, () => r)).toBeGreaterThanOrEqual(backoffDelay(p, n, () => r));
      }),
    );
  });

  it('keeps jitter within its share: between (1 - jitter) and all of the capped exponential delay', () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 60 }), unit, (p, n, r) => {
        const cap = Math.min(p.maxMs, p.initialMs * p.multiplier ** n);
        const d = backoffDelay(p, n, () => r);
        expect(d).toBeLessThanOrEqual(Math.round(cap));
        expect(d).toBeGreaterThanOrEqual(Math.round(cap * (1 - p.jitter)) - 1);
        // No jitter: exactly the capped delay, whatever the draw.
        expect(backoffDelay({ ...p, jitter: 0 }, n, () => r)).toBe(Math.round(cap));
      }),
    );
  });

  it('grows by the multiplier up to the cap', () => {
    const p: BackoffPolicy = { initialMs: 250, maxMs: 5_000, multiplier: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 5, 30].map((n) => backoffDelay(p, n, () => 0))).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    // The most the jitter takes off: half.
    expect(backoffDelay(p, 0, () => 1)).toBe(125);
    // A negative attempt is the first.
    expect(backoffDelay(p, -3, () => 0)).toBe(250);
  });

  it('with full jitter spreads the waits over [0, cap]', () => {
    const p: BackoffPolicy = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 1 };
    const waits = Array.from({ length: 2_000 }, () => backoffDelay(p, 3));
    expect(Math.min(...waits)).toBeLessThan(100);
    expect(Math.max(...waits)).toBeGreaterThan(700);
    expect(Math.max(...waits)).toBeLessThanOrEqual(800);
  });
});
