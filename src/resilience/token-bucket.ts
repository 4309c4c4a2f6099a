/**
 * A token bucket: `ratePerSecond` tokens flow in, up to `burst`; a request takes what it costs or is
 * told how long to wait. Refill is computed from a monotonic clock (never `Date.now()`, which jumps
 * with NTP), and counts time, not CPU, so a limit holds the same on a busy machine.
 */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens the bucket holds; it starts full. @default ratePerSecond */
  burst?: number;
  /** Monotonic milliseconds (tests pass their own clock). @default performance.now */
  now?: () => number;
}

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private at: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    this.ratePerSecond = options.ratePerSecond;
    this.burst = Math.max(1, options.burst ?? options.ratePerSecond);
    this.now = options.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.at = this.now();
  }

  /** Tokens there now. */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  /** True when the bucket is full (it can be forgotten: a new one starts full). */
  get full(): boolean {
    return this.available >= this.burst;
  }

  /**
   * Takes `cost` tokens if there are that many and returns 0; otherwise takes nothing and returns the
   * milliseconds until there will be. A cost above `burst` is charged as `burst` (else it could never pass).
   */
  take(cost: number): number {
    const wait = this.waitFor(cost);
    if (wait === 0) this.tokens -= Math.min(cost, this.burst);
    return wait;
  }

  /** Milliseconds until `cost` tokens are there (0: now), without taking any. */
  waitFor(cost: number): number {
    this.refill();
    const need = Math.min(cost, this.burst) - this.tokens;
    return need <= 0 ? 0 : Math.ceil((need / this.ratePerSecond) * 1000);
  }

  private refill(): void {
    const now = this.now();
    // A clock that steps back (a test's, or a bug) adds nothing rather than removing tokens.
    const elapsed = Math.max(0, now - this.at);
    this.at = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.ratePerSecond);
  }
}
