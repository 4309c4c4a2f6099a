/**
 * One token bucket per client key (a token's subject, a device id). Buckets that have refilled are
 * forgotten when the map grows, so a flood of distinct keys costs memory only while they are limited.
 */
import { TokenBucket } from './token-bucket.js';

export interface RateLimiterOptions {
  /** Tokens per second for each key. */
  ratePerSecond: number;
  /** Most tokens a key can spend at once. @default ratePerSecond */
  burst?: number;
  /** Past this many keys, full buckets are dropped. @default 10000 */
  maxKeys?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxKeys: number;

  constructor(private readonly options: RateLimiterOptions) {
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes `cost` from `key`'s bucket: 0 when allowed, else the milliseconds to wait (nothing taken). */
  take(key: string, cost: number): number {
    return this.bucket(key).take(cost);
  }

  /** Milliseconds until `key` has `cost` tokens (0: now), taking nothing. */
  waitFor(key: string, cost: number): number {
    return this.buckets.get(key)?.waitFor(cost) ?? 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.sweep();
      bucket = new TokenBucket({ ratePerSecond: this.options.ratePerSecond, burst: this.options.burst, now: this.options.now });
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private sweep(): void {
    for (const [key, bucket] of this.buckets) if (bucket.full) this.buckets.delete(key);
  }
}
