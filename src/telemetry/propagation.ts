/**
 * W3C Trace Context (`traceparent`, `tracestate`) in and out of message headers, so that a reading can
 * be followed from the node that took it to the node that folded it in. Works with NATS `MsgHdrs`, a
 * `Map`, `Headers`, or anything with `get`/`set`.
 */
import { ROOT_CONTEXT, trace, type Context, type SpanContext, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

export interface HeaderCarrier {
  get(name: string): string | null | undefined;
  set(name: string, value: string): void;
}

const propagator = new W3CTraceContextPropagator();

const getter: TextMapGetter<Pick<HeaderCarrier, 'get'>> = {
  keys: () => ['traceparent', 'tracestate'],
  // NATS answers "" for a header it does not have.
  get: (carrier, key) => carrier.get(key) || undefined,
};

const setter: TextMapSetter<Pick<HeaderCarrier, 'set'>> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Writes the trace context of `ctx` (if it holds a span) into `carrier`. */
export function injectTraceContext(ctx: Context, carrier: Pick<HeaderCarrier, 'set'>): void {
  propagator.inject(ctx, carrier, setter);
}

/** The context a received message carries: use it as the parent of the span that handles it. */
export function extractTraceContext(carrier: Pick<HeaderCarrier, 'get'>, parent: Context = ROOT_CONTEXT): Context {
  return propagator.extract(parent, carrier, getter);
}

/** Plain-object headers (node:http `IncomingHttpHeaders`). */
export function extractFromHttpHeaders(headers: Record<string, string | string[] | undefined>): Context {
  return propagator.extract(ROOT_CONTEXT, headers, {
    keys: (h) => Object.keys(h),
    get: (h, key) => h[key],
  });
}

/** The `traceparent` header value of a span context. */
export function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
}

/** The span context a context carries, if any. */
export function spanContextOf(ctx: Context): SpanContext | undefined {
  return trace.getSpanContext(ctx);
}
