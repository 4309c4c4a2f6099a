/** Bounds on the work the node takes on at once, and on what each client may ask of it. */
import type { LoadShedder } from '../resilience/index.js';
import { RateLimiter } from '../resilience/index.js';
import { RETRY_AFTER_SECONDS, sendError } from './respond.js';
import type { Principal, RequestContext } from './router.js';

/** API work is bounded; past the bound a request is refused before anything of its body is read. */
export function shed(shedder: LoadShedder, handle: (ctx: RequestContext) => Promise<void>): (ctx: RequestContext) => Promise<void> {
  return async (ctx) => {
    if (!shedder.tryAcquire()) {
      sendOverloaded(ctx);
      return;
    }
    try {
      await handle(ctx);
    } finally {
      shedder.release();
    }
  };
}

/** 503 `overloaded`: every processing slot is taken. */
export function sendOverloaded(ctx: RequestContext): void {
  sendError(ctx.res, 503, 'overloaded', 'the node is at capacity; retry later', { 'retry-after': String(RETRY_AFTER_SECONDS), connection: 'close' });
  ctx.req.resume();
}

/** A rate: tokens per second, and how many may be spent at once. */
export interface RateLimit {
  /** Tokens per second; 0 turns the limit off. */
  ratePerSecond: number;
  /** Tokens that may be spent at once. @default ratePerSecond */
  burst?: number;
}

export interface ClientRateLimitsOptions {
  /** Each token, keyed by its id (`jti`; scope and subject for a token without one). @default off */
  perToken?: RateLimit;
  /** Each device: tokens of the `device` scope, keyed by the device id (all its tokens share it). @default off */
  perDevice?: RateLimit;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
}

/**
 * Per-client token buckets. A gateway's token posts for many devices, whose ids only the guest reads
 * from the body: the host limits what it can see (the token) and, for device tokens, the device.
 * Without authentication there is no client to tell apart and nothing is limited.
 */
export class ClientRateLimits {
  private readonly perToken?: RateLimiter;
  private readonly perDevice?: RateLimiter;

  constructor(options: ClientRateLimitsOptions) {
    const make = (limit?: RateLimit): RateLimiter | undefined =>
      limit && limit.ratePerSecond > 0 ? new RateLimiter({ ratePerSecond: limit.ratePerSecond, burst: limit.burst || undefined, now: options.now }) : undefined;
    this.perToken = make(options.perToken);
    this.perDevice = make(options.perDevice);
  }

  /** Milliseconds until `principal` may spend `cost` (0: now); takes nothing. */
  waitFor(principal: Principal, cost: number): number {
    return longestWait(this.keys(principal), cost);
  }

  /** Spends `cost` for `principal` and returns 0, or returns the milliseconds to wait (nothing spent). */
  take(principal: Principal, cost: number): number {
    const keys = this.keys(principal);
    const wait = longestWait(keys, cost);
    if (wait > 0) return wait;
    for (const [limiter, key] of keys) limiter.take(key, cost);
    return 0;
  }

  private keys(principal: Principal): Array<[RateLimiter, string]> {
    if (principal.subject === '' || principal.kind === 'anonymous') return [];
    const keys: Array<[RateLimiter, string]> = [];
    // Each token its own bucket: every gateway token made by `token create --gateway` has the subject `gateway`.
    if (this.perToken) keys.push([this.perToken, principal.tokenId ? `jti:${principal.tokenId}` : `${principal.kind}:${principal.subject}`]);
    if (this.perDevice && principal.kind === 'device') keys.push([this.perDevice, principal.subject]);
    return keys;
  }
}

function longestWait(keys: ReadonlyArray<[RateLimiter, string]>, cost: number): number {
  let wait = 0;
  for (const [limiter, key] of keys) wait = Math.max(wait, limiter.waitFor(key, cost));
  return wait;
}

/** 429 `rate_limited` with the seconds to wait. */
export function sendRateLimited(ctx: RequestContext, waitMs: number): void {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  sendError(ctx.res, 429, 'rate_limited', `this client is over its rate limit; retry after ${seconds} s (nothing of this request was stored)`, {
    'retry-after': String(seconds),
  });
  ctx.req.resume();
}

/**
 * The readings of a JSON or NDJSON batch, counted without parsing: every reading is one object, so
 * the `{` bytes are an upper bound (a `{` inside a string over-counts, which only errs on the safe side).
 */
export function countObjects(body: Uint8Array): number {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let n = 0;
  for (let i = buf.indexOf(0x7b); i >= 0; i = buf.indexOf(0x7b, i + 1)) n++;
  return Math.max(1, n);
}
