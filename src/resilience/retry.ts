/**
 * Retry with exponential backoff and full jitter (each wait is uniform in [0, min(cap, base * 2^n)]),
 * so that many clients failing together do not come back together. Bounded by attempts and by a
 * time budget, and only for failures that a retry can fix. Built on cockatiel's retry policy.
 */
import { ExponentialBackoff, fullJitterGenerator, handleWhen, retry } from 'cockatiel';

export interface RetryOptions {
  /** The first backoff's upper bound, in ms. @default 100 */
  initialDelayMs?: number;
  /** The largest backoff, in ms. @default 10000 */
  maxDelayMs?: number;
  /** Attempts in all, the first included. @default 10 */
  maxAttempts?: number;
  /** No retry starts after this much time since the first attempt, in ms. @default 60000 */
  budgetMs?: number;
  /** Whether a failure is worth retrying. @default every failure */
  retryable?: (error: Error) => boolean;
}

/** Runs `fn` until it succeeds, a failure is not retryable, or the attempts or the budget run out. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}, signal?: AbortSignal): Promise<T> {
  const started = Date.now();
  const budget = options.budgetMs ?? 60_000;
  const retryable = options.retryable ?? (() => true);
  const policy = retry(
    handleWhen((error) => retryable(error) && Date.now() - started < budget),
    {
      maxAttempts: Math.max(0, (options.maxAttempts ?? 10) - 1),
      backoff: new ExponentialBackoff({
        generator: fullJitterGenerator,
        initialDelay: options.initialDelayMs ?? 100,
        maxDelay: options.maxDelayMs ?? 10_000,
      }),
    },
  );
  return policy.execute(({ attempt }) => fn(attempt), signal);
}
