/**
 * What replication asks of tracing, so that a reading can be followed from the node that took it to the
 * node that folded it in: the trace context travels in the message's `traceparent`/`tracestate` headers,
 * never in the event or the outbox (tracing adds no byte written per reading). src/telemetry implements
 * it (`Telemetry.replicationTracer`); replication never sees a span or an SDK type.
 */
import type { StoredEvent } from '../runtime/index.js';
import { messageId } from './subjects.js';

/** Message headers as tracing reads and writes them (NATS `MsgHdrs`). */
export interface TraceHeaders {
  get(name: string): string | null | undefined;
  set(name: string, value: string): void;
}

/** A span of one message, opaque here. */
export interface MessageSpan {
  setAttribute(key: string, value: string | number | boolean): void;
  /** Ends it; failed when `error` is given. */
  end(error?: unknown): void;
}

export interface ReplicationTracer {
  /** True when `trace` (a request's, as the write path was given it) was sampled: its events' traces are worth keeping. */
  traced(trace: unknown): boolean;
  /**
   * Remembers, until the message is acknowledged, the request whose event will be published as message
   * `id`. In memory and bounded (the oldest are forgotten): best effort, and lost at a restart.
   */
  remember(id: string, trace: unknown): void;
  /**
   * Before message `id` is published on `subject`: when its request was remembered, starts the publish
   * span (a child of the request's) and writes its context into `headers`; otherwise undefined and
   * `headers` untouched. Ending the span without an error forgets the request.
   */
  publish(subject: string, id: string, headers: TraceHeaders): MessageSpan | undefined;
  /**
   * A message received from another node: when its headers carry a sampled trace context, starts the span
   * of its fold here, a child of the publish span on the node that sent it; otherwise undefined.
   */
  receive(subject: string, id: string, consumer: string, headers: Pick<TraceHeaders, 'get'>): MessageSpan | undefined;
}

/**
 * After a local commit: remembers the request of each new event that was traced (`traces[i]` is the
 * request of `events[i]`). Nothing is kept, and no id is made, for a request that was not sampled.
 */
export function rememberTraces(tracer: ReplicationTracer, stream: string, events: readonly StoredEvent[], traces: readonly unknown[]): void {
  for (let i = 0; i < events.length; i++) {
    const trace = traces[i];
    if (trace !== undefined && tracer.traced(trace)) tracer.remember(messageId(stream, events[i]!), trace);
  }
}
