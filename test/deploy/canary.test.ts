/**
 * The canary's devices (issue 15, "Canary sticky per device"): raising the share only adds devices, the
 * share of devices in the canary is the share asked for, and each app draws its own set.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canaryPoint, inCanary } from '../../src/deploy/index.js';

const DEVICES = 10_000;
/**
 * With n = 10,000 devices whose places are independent and uniform, the fraction below a share p has a
 * standard deviation of sqrt(p(1 - p)/n) <= 0.005; 2.5 points is at least five of them (a chance below 1e-6
 * per check of failing by bad luck, and the seeds are fixed, so a run is repeatable).
 */
const TOLERANCE = 0.025;

function deviceIds(prefix: string, n = DEVICES): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/**
 * Shares in (0, 1] in steps of 0.01 points (finer than any operator sets), sorted ascending: a rollout's
 * steps. Not fc.double: it draws mostly extremes (1e-300, 1), which would leave the middle untested.
 */
const share = fc.integer({ min: 1, max: 10_000 }).map((basisPoints) => basisPoints / 10_000);
const increasingShares = fc.array(share, { minLength: 2, maxLength: 8 }).map((shares) => [...shares].sort((a, b) => a - b));

describe('canary membership', () => {
  it('is sticky: a device in the canary at one share stays in it at every later, larger share', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.uniqueArray(fc.string({ maxLength: 24 }), { minLength: 1, maxLength: 200 }), increasingShares, (app, devices, shares) => {
        for (const device of devices) {
          let wasIn = false;
          for (const share of shares) {
            const isIn = inCanary(app, device, share);
            if (wasIn && !isIn) return false;
            wasIn = isIn;
          }
        }
        return true;
      }),
      { seed: 15_001, numRuns: 300 },
    );
  });

  it('places every device on [0, 1): no device at share 0, every device at share 1', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), (app, device) => {
        const point = canaryPoint(app, device);
        return point >= 0 && point < 1 && !inCanary(app, device, 0) && inCanary(app, device, 1);
      }),
      { seed: 15_002, numRuns: 500 },
    );
  });

  it(`puts the target share of ${DEVICES} devices in the canary, within ±${TOLERANCE * 100} points`, () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }), share, (app, prefix, target) => {
        const fraction = deviceIds(prefix).filter((d) => inCanary(app, d, target)).length / DEVICES;
        return Math.abs(fraction - target) <= TOLERANCE;
      }),
      { seed: 15_003, numRuns: 20 },
    );
  });

  it('draws a different set of devices for each app (independent: the overlap at 50% is about a quarter)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 2 }), fc.string({ maxLength: 12 }), ([a, b], prefix) => {
        const devices = deviceIds(prefix);
        const inA = devices.map((d) => inCanary(a!, d, 0.5));
        const inB = devices.map((d) => inCanary(b!, d, 0.5));
        const both = inA.filter((x, i) => x && inB[i]).length / DEVICES;
        // Each device in both with probability 1/4 if the apps draw independently (sd <= 0.0044).
        return Math.abs(both - 0.25) <= TOLERANCE;
      }),
      { seed: 15_004, numRuns: 10 },
    );
  });

  it('is the same answer every time for the same app and device (fixed, not random per call)', () => {
    const devices = deviceIds('dev-', 100);
    const first = devices.map((d) => canaryPoint('aggregator', d));
    expect(devices.map((d) => canaryPoint('aggregator', d))).toEqual(first);
    expect(new Set(first).size).toBe(100);
  });
});
