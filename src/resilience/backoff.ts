/**
 * Retry delays as data (nats.js style): a policy is a plain object, and the delay for an attempt is a
 * pure function of it, so every loop that waits (NATS reconnects, JetStream publishes, the sensor
 * client) shares one formula, and a test can pin the randomness.
 */

export interface BackoffPolicy {
  /** Delay before the first retry, in milliseconds. */
  initialMs: number;
  /** Largest delay, in milliseconds: the exponential growth stops here. */
  maxMs: number;
  /** Growth per attempt; at least 1, so the delays never shrink. */
  multiplier: number;
  /**
   * Share of the delay that is random, in [0, 1]: 0 waits exactly the exponential delay, 0.5 picks
   * uniformly from [50%, 100%] of it, 1 is "full jitter" (uniform in [0, delay]). Jitter keeps a fleet
   * that failed together from coming back together.
   */
  jitter: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry), in whole milliseconds: the capped
 * exponential delay less a random share of it. Always within [0, maxMs].
 * @param random a source of uniform numbers in [0, 1]; a test passes a constant.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(0, attempt);
  // initialMs * multiplier ** n overflows to Infinity (or NaN for 0 * Infinity) long before n is large.
  const grown = policy.initialMs * policy.multiplier ** n;
  const capped = Number.isNaN(grown) ? 0 : Math.min(policy.maxMs, grown);
  const share = Math.min(1, Math.max(0, policy.jitter)) * Math.min(1, Math.max(0, random()));
  return Math.max(0, Math.round(capped * (1 - share)));
}
