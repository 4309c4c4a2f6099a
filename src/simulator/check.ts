/**
 * The final check: the node's aggregates per region against the readings it acknowledged.
 *
 * The node may already hold readings of the same regions (an earlier run, another fleet), so the
 * check compares against what the node held before the run plus what this run had acknowledged.
 * It is exact only if nobody else writes to these regions during the run: when a region holds more
 * readings than that, the check says so (skipped) instead of failing, since nothing acknowledged is missing.
 */
import type { RegionTotals } from './ledger.js';

/** The part of a region's aggregate `R` (docs/api.md) the check reads. */
export interface AggregateView {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
}

export interface RegionCheck {
  region: string;
  expected: { count: number; sum: number; min: number | null; max: number | null };
  /** Undefined when the node does not know the region. */
  actual: AggregateView | undefined;
  /** Readings of this run the node acknowledged (distinct). */
  acknowledged: number;
  problems: string[];
}

export interface CheckResult {
  status: 'pass' | 'fail' | 'skipped';
  /** One sentence: why it passed, failed or was skipped. */
  reason: string;
  regions: RegionCheck[];
}

export function checkAggregates(input: {
  regions: readonly string[];
  ours: ReadonlyMap<string, RegionTotals>;
  before: ReadonlyMap<string, AggregateView>;
  after: ReadonlyMap<string, AggregateView>;
  inDoubt: number;
  malformedAccepted: number;
}): CheckResult {
  const checks: RegionCheck[] = [];
  for (const region of input.regions) {
    const o = input.ours.get(region);
    const b = input.before.get(region);
    const a = input.after.get(region);
    const count = (b?.count ?? 0) + (o?.count ?? 0);
    // Micro-degrees are exact integers far below 2^53; the node's own sum is the same integer / 10^6.
    const sum = (b?.sum ?? 0) + (o ? o.micro / 1e6 : 0);
    const mins = [b && b.count > 0 ? b.min : null, o ? o.min : null].filter((v): v is number => v !== null);
    const maxs = [b && b.count > 0 ? b.max : null, o ? o.max : null].filter((v): v is number => v !== null);
    const expected = { count, sum, min: mins.length ? Math.min(...mins) : null, max: maxs.length ? Math.max(...maxs) : null };
    const problems: string[] = [];
    if (!a) {
      if (count > 0) problems.push(`the node does not know the region (expected ${count} readings)`);
    } else if (a.count > count) {
      // More than this run and the region's past: another client wrote to it meanwhile. That is no
      // evidence of a loss, and it makes sum, min and max uncheckable; a missing reading would show as less.
      problems.push(`count ${a.count}, expected ${count}: ${a.count - count} readings from other clients`);
    } else {
      if (a.count !== count) problems.push(`count ${a.count}, expected ${count}`);
      if (Math.abs(a.sum - sum) > 1e-6 + 1e-12 * Math.abs(sum)) problems.push(`sum ${a.sum}, expected ${sum}`);
      if (count > 0 && a.min !== expected.min) problems.push(`min ${a.min}, expected ${expected.min}`);
      if (count > 0 && a.max !== expected.max) problems.push(`max ${a.max}, expected ${expected.max}`);
    }
    checks.push({ region, expected, actual: a, acknowledged: o?.count ?? 0, problems });
  }

  const bad = checks.filter((c) => c.problems.length > 0);
  const acknowledged = checks.reduce((n, c) => n + c.acknowledged, 0);
  if (input.malformedAccepted > 0) {
    return { status: 'fail', reason: `the node accepted ${input.malformedAccepted.toLocaleString('en-US')} malformed readings`, regions: checks };
  }
  if (input.inDoubt > 0) {
    return {
      status: 'fail',
      reason: `${input.inDoubt.toLocaleString('en-US')} readings were sent but never answered, so what the node holds cannot be checked exactly`,
      regions: checks,
    };
  }
  const shared = bad.filter((c) => c.actual !== undefined && c.actual.count > c.expected.count);
  const wrong = bad.filter((c) => !shared.includes(c));
  if (wrong.length > 0) {
    return { status: 'fail', reason: `the aggregates of ${wrong.map((c) => c.region).join(', ')} do not match what the node acknowledged`, regions: checks };
  }
  if (shared.length > 0) {
    return {
      status: 'skipped',
      reason:
        `other clients wrote to ${shared.map((c) => c.region).join(', ')} during the run, so those aggregates cannot be checked exactly ` +
        `(nothing acknowledged is missing); give this run regions of its own with --regions`,
      regions: checks,
    };
  }
  return {
    status: 'pass',
    reason: `the node's aggregates of ${checks.length} region${checks.length === 1 ? '' : 's'} match the ${acknowledged.toLocaleString('en-US')} distinct readings it acknowledged`,
    regions: checks,
  };
}
