/**
 * The node's canary judge (issue 15, "Automatic rollback on the node"): too few calls hold the rollout, an
 * error rate over the stable's by more than the threshold rolls it back, anything else is healthy; and a
 * version's health window forgets calls once they are older than the window (on a controlled clock).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HealthWindow, judge, type HealthPolicy, type HealthSummary } from '../../src/deploy/index.js';

const POLICY: HealthPolicy = { windowMs: 60_000, minCalls: 100, maxErrorExcess: 0.25 };

function summary(calls: number, errors: number): HealthSummary {
  return { calls, errors, errorRate: calls === 0 ? 0 : errors / calls, meanLatencyMs: 1 };
}

describe('judge', () => {
  it('holds below the minimum number of calls, however bad the canary looks', () => {
    for (const calls of [0, 1, 50, 99]) {
      const verdict = judge(summary(1000, 0), summary(calls, calls), POLICY);
      expect(verdict.kind, `${calls} calls`).toBe('hold');
      expect(verdict.kind === 'hold' && verdict.reason).toBe(`${calls} of 100 calls needed to judge`);
    }
  });

  it('judges from exactly the minimum number of calls on', () => {
    expect(judge(summary(1000, 0), summary(100, 100), POLICY).kind).toBe('rollback');
    expect(judge(summary(1000, 0), summary(100, 0), POLICY).kind).toBe('healthy');
  });

  it('rolls back when the error rate exceeds the stable one by more than the threshold, and says why', () => {
    const verdict = judge(summary(400, 100), summary(200, 101), POLICY);
    expect(verdict.kind).toBe('rollback');
    expect(verdict.kind === 'rollback' && verdict.reason).toBe('error rate 50.5% (101 of 200 calls) against 25.0% for stable, over the 25.0% allowed');
  });

  it('is healthy at exactly the threshold, below it, and when the canary does better than the stable', () => {
    expect(judge(summary(400, 100), summary(200, 100), POLICY).kind).toBe('healthy'); // 50% against 25%: exactly 25 points
    expect(judge(summary(400, 100), summary(200, 99), POLICY).kind).toBe('healthy');
    expect(judge(summary(400, 400), summary(200, 0), POLICY).kind).toBe('healthy');
    // A stable version with no calls counts as a 0% error rate.
    expect(judge(summary(0, 0), summary(200, 50), POLICY).kind).toBe('healthy');
    expect(judge(summary(0, 0), summary(200, 51), POLICY).kind).toBe('rollback');
  });

  it('gives hold, rollback or healthy exactly as the policy says, for any figures', () => {
    const counts = fc.integer({ min: 0, max: 500 }).chain((calls) => fc.tuple(fc.constant(calls), fc.integer({ min: 0, max: calls })));
    const policy = fc.record({ windowMs: fc.constant(60_000), minCalls: fc.integer({ min: 0, max: 300 }), maxErrorExcess: fc.integer({ min: 0, max: 100 }).map((p) => p / 100) });
    fc.assert(
      fc.property(counts, counts, policy, ([sc, se], [cc, ce], p) => {
        const stable = summary(sc, se);
        const canary = summary(cc, ce);
        const expected = cc < p.minCalls ? 'hold' : canary.errorRate - stable.errorRate > p.maxErrorExcess ? 'rollback' : 'healthy';
        return judge(stable, canary, p).kind === expected;
      }),
      { seed: 15_101, numRuns: 500 },
    );
  });
});

describe('HealthWindow', () => {
  it('sums calls, errors and latency, and forgets them once they are older than the window', () => {
    let now = 0;
    const w = new HealthWindow(1000, () => now);
    expect(w.summary()).toEqual({ calls: 0, errors: 0, errorRate: 0, meanLatencyMs: 0 });
    w.record(true, 10);
    now = 500;
    w.record(false, 30);
    w.record(false, 20);
    now = 999;
    expect(w.summary()).toEqual({ calls: 3, errors: 1, errorRate: 1 / 3, meanLatencyMs: 20 });
    // The window moves in tenths: the call at 0 is gone a tenth of the window after it left it.
    now = 1100;
    expect(w.summary()).toEqual({ calls: 2, errors: 0, errorRate: 0, meanLatencyMs: 25 });
    now = 1600;
    expect(w.summary()).toEqual({ calls: 0, errors: 0, errorRate: 0, meanLatencyMs: 0 });
    // Recording after a long silence starts afresh.
    now = 100_000;
    w.record(true, 4);
    expect(w.summary()).toEqual({ calls: 1, errors: 1, errorRate: 1, meanLatencyMs: 4 });
  });

  it('counts every call of the last window and none older than the window and a tenth, for any calls and clock', () => {
    const windowMs = 1000;
    const step = fc.record({ advanceMs: fc.integer({ min: 0, max: 400 }), error: fc.boolean(), latencyMs: fc.integer({ min: 0, max: 50 }), look: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), fc.integer({ min: 0, max: 3000 }), (steps, finalAdvanceMs) => {
        let now = 0;
        const w = new HealthWindow(windowMs, () => now);
        const calls: Array<{ at: number; error: boolean; latencyMs: number }> = [];
        const check = (): boolean => {
          const s = w.summary();
          const surely = calls.filter((c) => c.at >= now - windowMs);
          const maybe = calls.filter((c) => c.at > now - windowMs - windowMs / 10);
          const kept = maybe.slice(maybe.length - s.calls);
          return (
            s.calls >= surely.length &&
            s.calls <= maybe.length &&
            // The calls counted are the newest ones, whole: their errors and latencies, no others.
            s.errors === kept.filter((c) => c.error).length &&
            Math.abs(s.meanLatencyMs * s.calls - kept.reduce((sum, c) => sum + c.latencyMs, 0)) < 1e-6
          );
        };
        for (const { advanceMs, error, latencyMs, look } of steps) {
          now += advanceMs;
          w.record(error, latencyMs);
          calls.push({ at: now, error, latencyMs });
          if (look && !check()) return false;
        }
        now += finalAdvanceMs;
        return check();
      }),
      { seed: 15_102, numRuns: 400 },
    );
  });
});
