/** Retry delays as data: exponential, capped, with jitter so a fleet that lost its server does not come back in step. */

export interface Backoff {
  /** Delay before the first retry, in milliseconds. */
  initialMs: number;
  /** Largest delay. */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Share of the delay that is random: 0.5 picks uniformly from [50%, 100%] of the exponential delay. */
  jitter: number;
}

/** Reconnecting to NATS and retrying JetStream setup. */
export const RECONNECT_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000, factor: 2, jitter: 0.5 };
/** Retrying a publish that failed while connected (JetStream busy or restarting). */
export const PUBLISH_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.5 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt));
  return Math.round(exponential * (1 - backoff.jitter * random()));
}

/** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
