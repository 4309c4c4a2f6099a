import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/resilience/index.js';

describe('sleep', () => {
  it('resolves after the time, never before it', async () => {
    const started = performance.now();
    await sleep(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
  });

  it('resolves as soon as its signal aborts, without rejecting, and leaves no listener behind', async () => {
    const stop = new AbortController();
    const started = performance.now();
    const sleeping = sleep(10_000, stop.signal);
    setTimeout(() => stop.abort(), 20);
    await expect(sleeping).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });

  it('resolves at once on a signal that has already aborted', async () => {
    const started = performance.now();
    await sleep(10_000, AbortSignal.abort());
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('removes its abort listener when the time is up', async () => {
    const stop = new AbortController();
    await Promise.all([sleep(5, stop.signal), sleep(10, stop.signal)]);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});
