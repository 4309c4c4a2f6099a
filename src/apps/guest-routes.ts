/**
 * Handlers that answer a route by calling an app's guest: writes go through the write path (group
 * commit, durable before the answer), reads see every acknowledged write (the pipeline folds first).
 * Both go through the store's circuit breaker and the node's bound on work in flight.
 */
import type { ServerResponse } from 'node:http';
import { BodyTooLargeError, mediaType, readBody, sendBody, sendCallFailure, sendError, shed, type RequestContext, type RequestObserver } from '../http/index.js';
import type { IngestPipeline } from '../ingest/index.js';
import type { LoadShedder, StoreBreaker } from '../resilience/index.js';
import type { GuestHttpRequest, GuestModule } from '../runtime/index.js';

export interface GuestRoutesOptions {
  /** The app's guest module (a function: the version serving may change). */
  module: () => GuestModule;
  /** The write path the guest's writes are committed through. */
  pipeline: () => IngestPipeline;
  /** The circuit breaker around the store: reads and writes go through it. */
  breaker: StoreBreaker;
  /** The bound on API requests in flight. */
  shedder: LoadShedder;
  /** Largest request body in bytes. @default 1048576 */
  bodyLimit?: number;
  /** Runs a request's synchronous guest calls in its telemetry scope. @default none */
  observer?: RequestObserver;
  /** Log of failures the client cannot see the cause of (host bugs). */
  onError: (error: unknown, context: string, res?: ServerResponse) => void;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** A handler whose request body is the guest's input and whose writes are durable before the answer. */
export function guestWriteHandler(options: GuestRoutesOptions): Handler {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  return shed(options.shedder, async (ctx) => {
    let body: Buffer;
    try {
      body = await readBody(ctx.req, bodyLimit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendError(ctx.res, 413, 'body_too_large', `${error.message}; split the batch`);
        return;
      }
      throw error;
    }
    try {
      const request = guestRequest(ctx, mediaType(ctx.req.headers['content-type']), body);
      const result = await options.breaker.run(() => options.pipeline().submit(request, ctx.scope));
      sendBody(ctx.res, result.status, result.contentType || 'application/json', result.body);
    } catch (error) {
      if (!sendCallFailure(ctx.res, error)) options.onError(error, 'ingest failed', ctx.res);
    }
  });
}

/** A handler that reads: the guest answers from state that holds every acknowledged write. */
export function guestReadHandler(options: GuestRoutesOptions): Handler {
  const { observer } = options;
  return shed(options.shedder, async (ctx) => {
    try {
      const call = () => options.pipeline().read(() => options.module().invokeHttp(guestRequest(ctx, '', new Uint8Array(0))));
      const result = await options.breaker.run(() => (observer ? observer.run(ctx.scope, call) : call()));
      sendBody(ctx.res, result.status, result.contentType || 'application/json', result.body);
    } catch (error) {
      if (!sendCallFailure(ctx.res, error)) options.onError(error, 'query failed', ctx.res);
    }
  });
}

function guestRequest(ctx: RequestContext, contentType: string, body: Uint8Array): GuestHttpRequest {
  return { method: ctx.req.method ?? 'GET', path: ctx.path, query: ctx.query, contentType, principal: ctx.principal, body };
}
