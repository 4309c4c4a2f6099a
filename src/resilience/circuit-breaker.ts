/**
 * The circuit breaker around the store: after `threshold` store failures within `windowMs` it opens,
 * and for `coolDownMs` every request is answered 503 at once instead of piling up on a failing
 * disk; then one probe is let through (half-open), and its success closes the circuit again.
 *
 * The state machine is cockatiel's (a well-kept implementation with a single half-open probe); what
 * is ours is the rule for what counts as a failure (only the store's, never a bad request or a
 * guest's bug) and the count-in-a-window trigger.
 */
import { CircuitBreakerPolicy, CircuitState, BrokenCircuitError, circuitBreaker, handleWhen, type IBreaker } from 'cockatiel';
import { isStoreFailure } from './store-failure.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface StoreBreakerOptions {
  /** Store failures within the window that open the circuit. @default 5 */
  threshold?: number;
  /** The window, in milliseconds. @default 10000 */
  windowMs?: number;
  /** How long the circuit stays open before a probe, in milliseconds. @default 2000 */
  coolDownMs?: number;
  /** Told of every transition. @default ignore */
  onStateChange?: (state: BreakerState, reason?: unknown) => void;
}

/** The circuit is open: the request was not attempted. */
export class CircuitOpenError extends Error {
  override name = 'CircuitOpenError';
  readonly code = 'circuit_open';
  constructor(readonly retryAfterMs: number) {
    super('the store is failing; requests are refused until it recovers');
  }
}

/** Opens after `threshold` failures within `windowMs` (cockatiel's IBreaker contract). */
class FailuresInWindow implements IBreaker {
  private failures: number[] = [];
  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  get state(): unknown {
    return this.failures;
  }

  set state(value: unknown) {
    this.failures = Array.isArray(value) ? (value as number[]) : [];
  }

  success(): void {}

  failure(): boolean {
    const now = Date.now();
    this.failures = this.failures.filter((t) => now - t < this.windowMs);
    this.failures.push(now);
    if (this.failures.length < this.threshold) return false;
    this.failures = [];
    return true;
  }
}

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
};

export class StoreBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly coolDownMs: number;
  private openedAt = 0;
  private transitions = 0;

  constructor(options: StoreBreakerOptions = {}) {
    this.coolDownMs = options.coolDownMs ?? 2000;
    this.policy = circuitBreaker(handleWhen(isStoreFailure), {
      halfOpenAfter: this.coolDownMs,
      breaker: new FailuresInWindow(options.threshold ?? 5, options.windowMs ?? 10_000),
    });
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
    });
    this.policy.onStateChange((s) => {
      this.transitions++;
      options.onStateChange?.(STATES[s], s === CircuitState.Open ? this.policy.lastFailure : undefined);
    });
  }

  get state(): BreakerState {
    return STATES[this.policy.state];
  }

  /** Transitions so far, for metrics. */
  get transitionCount(): number {
    return this.transitions;
  }

  /** Runs `fn` unless the circuit is open; its store failures count towards opening it. */
  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(() => fn());
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new CircuitOpenError(this.retryAfterMs());
      throw error;
    }
  }

  /** How long until a probe will be let through. */
  retryAfterMs(): number {
    return Math.max(0, this.openedAt + this.coolDownMs - Date.now());
  }
}
