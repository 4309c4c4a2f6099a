/**
 * The simulator's final check (src/simulator/check.ts): a FAIL only on evidence that something acknowledged
 * is missing or wrong. Regression: against `npm start`'s node the demo sensors keep writing to the same regions
 * during the check, which was reported as a FAIL.
 */
import { describe, expect, it } from 'vitest';
import { checkAggregates, type AggregateView } from '../../src/simulator/check.js';

const ours = new Map([['eu-west', { count: 3, micro: 60_000_000, min: 19, max: 21 }]]);
const before = new Map<string, AggregateView>([['eu-west', { count: 10, sum: 200, min: 15, max: 25 }]]);
const check = (after: AggregateView | undefined) =>
  checkAggregates({ regions: ['eu-west'], ours, before, after: new Map(after ? [['eu-west', after]] : []), inDoubt: 0, malformedAccepted: 0 });

describe('the final check of a simulated run', () => {
  it('passes when the node holds exactly what it held plus what it acknowledged', () => {
    expect(check({ count: 13, sum: 260, min: 15, max: 25 }).status).toBe('pass');
  });

  it('is skipped, not failed, when other clients wrote to the same regions during the run (the demo fleet)', () => {
    const r = check({ count: 20, sum: 400, min: 10, max: 30 });
    expect(r.status).toBe('skipped');
    expect(r.reason).toMatch(/other clients wrote to eu-west.*nothing acknowledged is missing.*--regions/);
  });

  it('fails when an acknowledged reading is missing', () => {
    expect(check({ count: 12, sum: 240, min: 15, max: 25 }).status).toBe('fail');
    expect(check(undefined).status).toBe('fail');
  });

  it('fails when the count is right but the values are not', () => {
    expect(check({ count: 13, sum: 261, min: 15, max: 25 }).status).toBe('fail');
    expect(check({ count: 13, sum: 260, min: 14, max: 25 }).status).toBe('fail');
  });
});
