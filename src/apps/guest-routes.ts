/**
 * Handlers that answer a route by calling an app's guest: writes go through the write path (group
 * commit, durable before the answer), reads see every acknowledged write (the pipeline folds first).
 * Both go through the store's circuit breaker and the node's bound on work in flight.
 *
 * A write is admitted in steps, cheapest refusal first: the client's rate (429), then its body, read
 * under a bound on body bytes held node-wide and a minimum rate (so uploads still arriving hold bytes,
 * never the processing slots that complete requests need), then the readings it holds against the
 * client's rate, and only then a processing slot.
 */
import type { ServerResponse } from 'node:http';
import {
  BodyBudgetError,
  BodyTooLargeError,
  BodyTooSlowError,
  ClientAbortError,
  ClientRateLimits,
  countObjects,
  mediaType,
  readBody,
  sendBody,
  RETRY_AFTER_SECONDS,
  sendCallFailure,
  sendError,
  sendOverloaded,
  sendRateLimited,
  shed,
  type RequestContext,
  type RequestObserver,
} from '../http/index.js';
import type { IngestPipeline } from '../ingest/index.js';
import { ByteBudget, type LoadShedder, type StoreBreaker } from '../resilience/index.js';
import type { GuestHttpRequest } from '../runtime/index.js';
import { routedCall, type AppVersions, type BatchSplitter, type RoutedResult } from './version-routing.js';

export interface GuestRoutesOptions {
  /** The app's live versions: which one serves a request (a canary takes a sticky share of devices). */
  versions: AppVersions;
  /** Splits a gateway's batch between the stable version and a canary by device. @default none: one version answers */
  splitter?: BatchSplitter;
  /** The write path the guest's writes are committed through. */
  pipeline: () => IngestPipeline;
  /** The circuit breaker around the store: reads and writes go through it. */
  breaker: StoreBreaker;
  /** The bound on API requests in flight. */
  shedder: LoadShedder;
  /** Largest request body in bytes. @default 1048576 */
  bodyLimit?: number;
  /** Request body bytes held at once, arriving or waiting to be processed; past it 503 `uploads_overloaded`. @default 67108864 */
  maxBodyBytesInFlight?: number;
  /** Bodies slower than this (bytes/s, averaged since the body began) are cut with 408 `body_too_slow`; 0: no minimum. @default 1024 */
  minBodyRate?: number;
  /** Time a body may take before `minBodyRate` applies, in ms. @default 5000 */
  minBodyRateGraceMs?: number;
  /** Readings per second each token may post (0: no limit); `burst` at once. @default { ratePerSecond: 50000, burst: 100000 } */
  rateLimitPerToken?: { ratePerSecond: number; burst?: number };
  /** Readings per second each device (device tokens) may post (0: no limit). @default { ratePerSecond: 1000, burst: 10000 } */
  rateLimitPerDevice?: { ratePerSecond: number; burst?: number };
  /** Monotonic clock of the rate limits, in ms. @default performance.now */
  now?: () => number;
  /** Runs a request's synchronous guest calls in its telemetry scope. @default none */
  observer?: RequestObserver;
  /** Log of failures the client cannot see the cause of (host bugs). */
  onError: (error: unknown, context: string, res?: ServerResponse) => void;
  /** A client went away mid-request, or was cut for a slow body: one line, no stack (not a host bug). @default ignore */
  onClientGone?: (reason: string, res: ServerResponse) => void;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** A handler whose request body is the guest's input and whose writes are durable before the answer. */
export function guestWriteHandler(options: GuestRoutesOptions): Handler {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  const budget = new ByteBudget(options.maxBodyBytesInFlight ?? 64 * 1024 * 1024);
  const bodyOptions = { budget, minBytesPerSecond: options.minBodyRate ?? 1024, graceMs: options.minBodyRateGraceMs ?? 5_000 };
  const limits = new ClientRateLimits({
    perToken: options.rateLimitPerToken ?? { ratePerSecond: 50_000, burst: 100_000 },
    perDevice: options.rateLimitPerDevice ?? { ratePerSecond: 1_000, burst: 10_000 },
    now: options.now,
  });
  const { shedder } = options;
  return async (ctx) => {
    const wait = limits.waitFor(ctx.principal, 1);
    if (wait > 0) return sendRateLimited(ctx, wait);
    // Every slot is busy processing: refuse before reading a body that could not be processed.
    if (!shedder.hasRoom()) return sendOverloaded(ctx);
    let body: Buffer;
    try {
      body = await readBody(ctx.req, bodyLimit, bodyOptions);
    } catch (error) {
      sendBodyFailure(ctx, error, options);
      return;
    }
    try {
      const charged = limits.take(ctx.principal, countObjects(body));
      if (charged > 0) return sendRateLimited(ctx, charged);
      if (!shedder.tryAcquire()) return sendOverloaded(ctx);
      try {
        await ingest(ctx, body, options);
      } finally {
        shedder.release();
      }
    } finally {
      budget.give(body.length);
    }
  };
}

async function ingest(ctx: RequestContext, body: Buffer, options: GuestRoutesOptions): Promise<void> {
  try {
    const request = guestRequest(ctx, mediaType(ctx.req.headers['content-type']), body);
    const pipeline = options.pipeline();
    const call = routedCall(options.versions, deviceOf(ctx), (fn) => pipeline.atomically(fn), options.splitter);
    const result = await options.breaker.run(() => pipeline.submit(request, ctx.scope, call));
    sendGuestAnswer(ctx, result);
  } catch (error) {
    if (!sendCallFailure(ctx.res, error)) options.onError(error, 'ingest failed', ctx.res);
  }
}

/** Answers a body that could not be read; nothing of it was stored. */
function sendBodyFailure(ctx: RequestContext, error: unknown, options: GuestRoutesOptions): void {
  if (error instanceof BodyTooLargeError) {
    sendError(ctx.res, 413, error.code, `${error.message}; split the batch`);
  } else if (error instanceof BodyBudgetError) {
    // The rest of the body is read and dropped (not held), so the client gets to read this answer.
    sendError(ctx.res, 503, error.code, `${error.message}; retry later (nothing of this request was stored)`, { 'retry-after': String(RETRY_AFTER_SECONDS) });
  } else if (error instanceof BodyTooSlowError) {
    options.onClientGone?.(error.message, ctx.res);
    // `connection: close`: the server ends the connection once the answer is written.
    sendError(ctx.res, 408, error.code, `${error.message}; nothing of this request was stored`, { connection: 'close' });
  } else if (error instanceof ClientAbortError) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    options.onClientGone?.(cause?.code ?? cause?.message ?? 'aborted', ctx.res);
  } else {
    throw error;
  }
}

/** A handler that reads: the guest answers from state that holds every acknowledged write. */
export function guestReadHandler(options: GuestRoutesOptions): Handler {
  const { observer } = options;
  return shed(options.shedder, async (ctx) => {
    try {
      const pipeline = options.pipeline();
      const routed = routedCall(options.versions, deviceOf(ctx), (fn) => pipeline.atomically(fn));
      const call = () => pipeline.read(() => routed(guestRequest(ctx, '', new Uint8Array(0))));
      const result = await options.breaker.run(() => (observer ? observer.run(ctx.scope, call) : call()));
      sendGuestAnswer(ctx, result);
    } catch (error) {
      if (!sendCallFailure(ctx.res, error)) options.onError(error, 'query failed', ctx.res);
    }
  });
}

function guestRequest(ctx: RequestContext, contentType: string, body: Uint8Array): GuestHttpRequest {
  return { method: ctx.req.method ?? 'GET', path: ctx.path, query: ctx.query, contentType, principal: ctx.principal, body };
}

/** The device a request speaks for (a device token or certificate), or undefined (a gateway, a reader). */
function deviceOf(ctx: RequestContext): string | undefined {
  return ctx.principal.kind === 'device' ? ctx.principal.subject : undefined;
}

/**
 * The guest's own answer, saying which version made it; a 503 of its own (a quota, say) tells the client
 * when to retry, as the node's do.
 */
function sendGuestAnswer(ctx: RequestContext, result: RoutedResult): void {
  const headers: Record<string, string> = { 'x-edgeagg-version': result.servedBy.join(', ') };
  if (result.status === 503) headers['retry-after'] = String(RETRY_AFTER_SECONDS);
  sendBody(ctx.res, result.status, result.contentType || 'application/json', result.body, headers);
}
