/**
 * Traces across nodes: a reading's trace goes from the request that took it, through the publish of its
 * event, to the commit of that event on every node that receives it. The trace context travels in the
 * message's `traceparent`/`tracestate` headers; between the commit and the publish it is kept in memory
 * only (see {@link EventTraceMemory}), never in the outbox: tracing adds no byte written per reading.
 *
 * {@link ReplicationTracing} implements src/replication's `ReplicationTracer` (structurally: telemetry
 * does not import replication, and replication sees no span or SDK type).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { extractTraceContext, injectTraceContext, type HeaderCarrier } from './propagation.js';
import { RequestScope } from './scope.js';

/** Requests remembered for their events' publish spans, at most. */
export const MAX_REMEMBERED_EVENT_TRACES = 10_000;

/**
 * The span context of the request each recently committed event came from, by the event's message id,
 * until its publish is acknowledged. Bounded: past `capacity` the oldest are forgotten (their events are
 * published without a span, e.g. a long outbox backlog while NATS is away). Best effort: a restart
 * forgets everything, and an event published before its commit was reported has no span.
 */
export class EventTraceMemory {
  private readonly entries = new Map<string, SpanContext>();

  constructor(readonly capacity = MAX_REMEMBERED_EVENT_TRACES) {}

  get size(): number {
    return this.entries.size;
  }

  remember(id: string, context: SpanContext): void {
    // A Map iterates in insertion order: re-inserting makes `id` the newest.
    this.entries.delete(id);
    this.entries.set(id, context);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get(id: string): SpanContext | undefined {
    return this.entries.get(id);
  }

  forget(id: string): void {
    this.entries.delete(id);
  }
}

/** A span of one message; a publish span that ends without an error forgets its request. */
class MessageSpanHandle {
  constructor(
    private readonly span: Span,
    private readonly memory?: EventTraceMemory,
    private readonly id?: string,
  ) {}

  setAttribute(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value);
  }

  end(error?: unknown): void {
    if (error !== undefined) {
      this.span.setAttribute('error.type', error instanceof Error ? error.name : 'error');
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    } else if (this.memory && this.id !== undefined) {
      this.memory.forget(this.id);
    }
    this.span.end();
  }
}

export class ReplicationTracing {
  readonly memory: EventTraceMemory;

  constructor(
    private readonly tracer: Tracer,
    capacity = MAX_REMEMBERED_EVENT_TRACES,
  ) {
    this.memory = new EventTraceMemory(capacity);
  }

  traced(trace: unknown): boolean {
    return trace instanceof RequestScope && trace.span !== undefined && (trace.span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
  }

  remember(id: string, trace: unknown): void {
    // The span context only (ids and flags), not the span: an ended span holds its attributes and events.
    if (this.traced(trace)) this.memory.remember(id, (trace as RequestScope).span!.spanContext());
  }

  publish(subject: string, id: string, headers: HeaderCarrier): MessageSpanHandle | undefined {
    const parent = this.memory.get(id);
    if (parent === undefined) return undefined;
    const span = this.tracer.startSpan(
      `publish ${subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.name': 'publish',
          'messaging.operation.type': 'send',
          'messaging.destination.name': subject,
          'messaging.message.id': id,
        },
      },
      trace.setSpanContext(ROOT_CONTEXT, parent),
    );
    // Not sampled (a sampler that ignores the parent): no span, and no context sent on.
    if (!span.isRecording()) {
      this.memory.forget(id);
      return undefined;
    }
    injectTraceContext(trace.setSpan(ROOT_CONTEXT, span), headers);
    return new MessageSpanHandle(span, this.memory, id);
  }

  receive(subject: string, id: string | null | undefined, consumer: string, headers: Pick<HeaderCarrier, 'get'>): MessageSpanHandle | undefined {
    // NATS answers "" for a header a message does not have: most messages stop here.
    if (!headers.get('traceparent')) return undefined;
    const parent = extractTraceContext(headers);
    if (trace.getSpanContext(parent) === undefined) return undefined;
    const span = this.tracer.startSpan(
      `process ${subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.name': 'process',
          'messaging.operation.type': 'process',
          'messaging.destination.name': subject,
          'messaging.consumer.group.name': consumer,
          ...(id ? { 'messaging.message.id': id } : {}),
        },
      },
      parent,
    );
    if (!span.isRecording()) return undefined;
    return new MessageSpanHandle(span);
  }
}
