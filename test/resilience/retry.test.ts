import { describe, expect, it } from 'vitest';
import { withRetry } from '../../src/resilience/index.js';

describe('withRetry', () => {
  it('retries a retryable failure until it succeeds', async () => {
    let calls = 0;
    const result = await withRetry(async () => {
      if (++calls < 3) throw new Error('transient');
      return 'ok';
    }, { initialDelayMs: 1, maxDelayMs: 2 });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after maxAttempts, with the last error', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new Error(`failure ${calls}`);
    }, { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 2 })).rejects.toThrow('failure 4');
    expect(calls).toBe(4);
  });

  it('never retries what is not retryable', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new TypeError('bad request');
    }, { retryable: (e) => !(e instanceof TypeError) })).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('stops starting retries once the time budget is spent', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(withRetry(async () => {
      calls++;
      throw new Error('down');
    }, { maxAttempts: 1000, initialDelayMs: 20, maxDelayMs: 20, budgetMs: 150 })).rejects.toThrow('down');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(1000);
  });

  it('waits with full jitter: never longer than the cap', async () => {
    const stamps: number[] = [];
    await withRetry(async () => {
      stamps.push(performance.now());
      if (stamps.length < 6) throw new Error('again');
    }, { initialDelayMs: 10, maxDelayMs: 40 });
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
    // Timers may fire late, never early: a gap above the cap plus scheduling slack would be a bug.
    for (const gap of gaps) expect(gap).toBeLessThan(40 + 200);
  });
});
