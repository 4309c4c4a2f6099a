/**
 * A version's health over a sliding window: calls, guest errors and latency, in time slices so old calls
 * drop out without keeping each one. The node judges a canary against its stable version with these alone
 * (no external monitor).
 */

/** How a canary is judged. Every figure is a node setting (docs/operations.md, "Deployments"). */
export interface HealthPolicy {
  /** The window the rates are computed over, in ms. */
  windowMs: number;
  /** Calls the canary must have had in the window before it is judged; fewer hold the rollout. */
  minCalls: number;
  /** The canary is rolled back when its error rate exceeds the stable's by more than this (0..1). */
  maxErrorExcess: number;
}

export interface HealthSummary {
  calls: number;
  errors: number;
  /** errors / calls (0 without calls). */
  errorRate: number;
  /** Mean call latency in ms (0 without calls). */
  meanLatencyMs: number;
}

const SLICES = 10;

interface Slice {
  start: number;
  calls: number;
  errors: number;
  latencyMs: number;
}

export class HealthWindow {
  private readonly slices: Slice[] = [];
  private readonly sliceMs: number;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {
    this.sliceMs = Math.max(1, Math.ceil(windowMs / SLICES));
  }

  record(error: boolean, latencyMs: number): void {
    const t = this.now();
    const start = t - (t % this.sliceMs);
    let last = this.slices[this.slices.length - 1];
    if (!last || last.start !== start) {
      last = { start, calls: 0, errors: 0, latencyMs: 0 };
      this.slices.push(last);
    }
    last.calls++;
    if (error) last.errors++;
    last.latencyMs += latencyMs;
    this.expire(t);
  }

  summary(): HealthSummary {
    this.expire(this.now());
    let calls = 0;
    let errors = 0;
    let latencyMs = 0;
    for (const s of this.slices) {
      calls += s.calls;
      errors += s.errors;
      latencyMs += s.latencyMs;
    }
    return { calls, errors, errorRate: calls === 0 ? 0 : errors / calls, meanLatencyMs: calls === 0 ? 0 : latencyMs / calls };
  }

  private expire(t: number): void {
    while (this.slices.length > 0 && this.slices[0]!.start + this.sliceMs <= t - this.windowMs) this.slices.shift();
  }
}

export type Verdict = { kind: 'hold'; reason: string } | { kind: 'healthy' } | { kind: 'rollback'; reason: string };

/**
 * The canary against the stable: rolled back when its error rate exceeds the stable's by more than the
 * policy allows, once it has had enough calls; too few calls hold the rollout (neither promote nor roll back).
 */
export function judge(stable: HealthSummary, canary: HealthSummary, policy: HealthPolicy): Verdict {
  if (canary.calls < policy.minCalls) return { kind: 'hold', reason: `${canary.calls} of ${policy.minCalls} calls needed to judge` };
  const excess = canary.errorRate - stable.errorRate;
  if (excess > policy.maxErrorExcess) {
    return {
      kind: 'rollback',
      reason: `error rate ${percent(canary.errorRate)} (${canary.errors} of ${canary.calls} calls) against ${percent(stable.errorRate)} for stable, over the ${percent(policy.maxErrorExcess)} allowed`,
    };
  }
  return { kind: 'healthy' };
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
