/**
 * Retry with backoff (./backoff.ts), bounded by attempts and by a time budget, and only for failures
 * that a retry can fix. A failure may carry the least wait the other side asked for (an HTTP
 * `Retry-After`): it is waited out before the backoff's own delay, so clients told to come back at
 * the same moment still come back spread out.
 */
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { sleep } from './sleep.js';

/** Full jitter from 100 ms doubling to 10 s: each wait is uniform in [0, min(10 s, 100 ms * 2^n)]. */
export const RETRY_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 1 };

/** A failed attempt that the same request may not meet again: a network error, a timeout, a 5xx, a 429. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  /** The least wait before the next attempt that the other side asked for, in ms (0: none). */
  readonly retryAfterMs: number;

  constructor(
    /** What failed, short and stable, for counters and logs: `network`, `timeout`, `http_503`, ... */
    readonly code: string,
    message: string,
    options: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.retryAfterMs = Math.max(0, options.retryAfterMs ?? 0);
  }
}

export interface RetryOptions {
  /** The delays between attempts. @default RETRY_BACKOFF: full jitter, 100 ms doubling to 10 s */
  backoff?: BackoffPolicy;
  /** Attempts in all, the first included (`Infinity`: until the signal aborts). @default 10 */
  maxAttempts?: number;
  /** No retry is scheduled once this much time has passed since the first attempt, in ms. @default 60000 */
  budgetMs?: number;
  /** Whether a failure is worth retrying. @default every failure */
  retryable?: (error: unknown) => boolean;
  /** Uniform numbers in [0, 1] for the jitter. @default Math.random */
  random?: () => number;
}

/**
 * Runs `fn` until it succeeds, a failure is not retryable, or the attempts or the budget run out; then
 * rejects with the last failure. `attempt` is 0 for the first call. An abort of `signal` ends a wait at
 * once and rejects with the signal's reason; a failure of an attempt the abort cut short is not retried.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}, signal?: AbortSignal): Promise<T> {
  const started = Date.now();
  const backoff = options.backoff ?? RETRY_BACKOFF;
  const maxAttempts = options.maxAttempts ?? 10;
  const budgetMs = options.budgetMs ?? 60_000;
  const retryable = options.retryable ?? (() => true);
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted || !retryable(error) || attempt + 1 >= maxAttempts || Date.now() - started >= budgetMs) throw error;
      const asked = error instanceof RetryableError ? error.retryAfterMs : 0;
      await sleep(asked + backoffDelay(backoff, attempt, options.random), signal);
    }
  }
}
