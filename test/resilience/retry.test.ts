import { describe, expect, it } from 'vitest';
import { RetryableError, withRetry, type BackoffPolicy } from '../../src/resilience/index.js';

const FAST: BackoffPolicy = { initialMs: 1, maxMs: 2, multiplier: 2, jitter: 1 };

describe('withRetry', () => {
  it('retries a retryable failure until it succeeds, telling each call its attempt', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempts.length < 3) throw new Error('transient');
        return 'ok';
      },
      { backoff: FAST },
    );
    expect(result).toBe('ok');
    expect(attempts).toEqual([0, 1, 2]);
  });

  it('gives up after maxAttempts, with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error(`failure ${calls}`);
        },
        { maxAttempts: 4, backoff: FAST },
      ),
    ).rejects.toThrow('failure 4');
    expect(calls).toBe(4);
  });

  it('never retries what is not retryable', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new TypeError('bad request');
        },
        { retryable: (e) => !(e instanceof TypeError) },
      ),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('stops starting retries once the time budget is spent', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('down');
        },
        { maxAttempts: 1000, backoff: { initialMs: 20, maxMs: 20, multiplier: 1, jitter: 0 }, budgetMs: 150 },
      ),
    ).rejects.toThrow('down');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(1000);
  });

  it('waits with full jitter: never longer than the cap', async () => {
    const stamps: number[] = [];
    await withRetry(
      async () => {
        stamps.push(performance.now());
        if (stamps.length < 6) throw new Error('again');
      },
      { backoff: { initialMs: 10, maxMs: 40, multiplier: 2, jitter: 1 } },
    );
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
    // Timers may fire late, never early: a gap above the cap plus scheduling slack would be a bug.
    for (const gap of gaps) expect(gap).toBeLessThan(40 + 200);
  });

  it("waits out a RetryableError's retryAfterMs before the backoff's own delay", async () => {
    const stamps: number[] = [];
    await withRetry(
      async () => {
        stamps.push(performance.now());
        if (stamps.length < 2) throw new RetryableError('http_503', 'busy', { retryAfterMs: 120 });
      },
      { backoff: { initialMs: 30, maxMs: 30, multiplier: 1, jitter: 0 } },
    );
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(150 - 2);
  });

  it('ends a wait at once when its signal aborts, and rejects with the abort reason', async () => {
    const stop = new AbortController();
    let calls = 0;
    const started = performance.now();
    const running = withRetry(
      async () => {
        calls++;
        throw new RetryableError('network', 'down', { retryAfterMs: 10_000 });
      },
      {},
      stop.signal,
    );
    setTimeout(() => stop.abort(new Error('stopping')), 30);
    await expect(running).rejects.toThrow('stopping');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(calls).toBe(1);
  });

  it('does not start on a signal that has already aborted', async () => {
    let calls = 0;
    await expect(withRetry(async () => calls++, {}, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(0);
  });

  it('draws the jitter from the given random source', async () => {
    const stamps: number[] = [];
    await withRetry(
      async () => {
        stamps.push(performance.now());
        if (stamps.length < 2) throw new Error('again');
      },
      // random() = 1 takes the whole delay off with full jitter: the retry comes at once.
      { backoff: { initialMs: 5_000, maxMs: 5_000, multiplier: 2, jitter: 1 }, random: () => 1 },
    );
    expect(stamps[1]! - stamps[0]!).toBeLessThan(1_000);
  });
});
