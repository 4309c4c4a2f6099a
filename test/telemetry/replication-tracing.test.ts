/**
 * Traces across nodes, in-process, against the real OpenTelemetry SDK: the write path reports each new
 * event's request; a traced request's events are published with a PRODUCER span under the request's span
 * and its context in `traceparent`; a received message with that header gets a CONSUMER span under the
 * publish span. Untraced requests, and a node with tracing off, add no header and keep nothing. (The same
 * across real processes and a real NATS server: nats-trace.test.ts.)
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestPipeline } from '../../src/ingest/ingest-pipeline.js';
import { OutboxPublisher } from '../../src/replication/publisher.js';
import { rememberTraces, type ReplicationTracer } from '../../src/replication/tracing.js';
import type { GuestModule, StoredEvent } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { EventTraceMemory, Telemetry, type Logger } from '../../src/telemetry/index.js';
import { RequestScope } from '../../src/telemetry/scope.js';
import { until } from '../helpers/poll.js';

const T0 = Date.UTC(2026, 0, 15, 12);
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const telemetries: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(telemetries.splice(0).map((t) => t.shutdown()));
});

function makeTelemetry(options: { spans?: InMemorySpanExporter; env?: NodeJS.ProcessEnv } = {}): Telemetry {
  const telemetry = new Telemetry({ logger: quiet, nodeId: 'node-test', serviceVersion: '0.0.0', env: options.env ?? {}, spanExporter: options.spans });
  telemetries.push(telemetry);
  return telemetry;
}

/** A request as the HTTP server makes it: with a recorded server span when `traced`. */
function request(telemetry: Telemetry, traced: boolean): RequestScope {
  const scope = new RequestScope(`r-${Math.random()}`, 'POST');
  if (traced) {
    scope.span = telemetry.startSpan('POST /v1/readings', { kind: SpanKind.SERVER });
    scope.span!.end();
  }
  return scope;
}

/** Records every publish with its headers; `fail` decides, per attempt, whether JetStream refuses it. */
function fakeJetStream(fail: (n: number) => boolean = () => false) {
  const published: Array<{ subject: string; msgID: string; headers: Map<string, string> }> = [];
  let n = 0;
  const js = {
    publish: async (subject: string, _data: Uint8Array, options: { msgID: string; headers: Iterable<[string, string[]]> }): Promise<PubAck> => {
      await new Promise((r) => setImmediate(r));
      if (fail(n++)) throw new Error('no responders: JetStream is not available');
      published.push({ subject, msgID: options.msgID, headers: new Map([...options.headers].map(([k, v]) => [k, v[0]!])) });
      return { stream: 'EDGEAGG_EVENTS', seq: published.length, duplicate: false } as PubAck;
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

function event(i: number): StoredEvent {
  return { partition: 'eu-west', source: `d-${i}`, timeMs: T0 + i, payload: new Uint8Array(8) };
}

/** Appends events `from`..`from + count - 1` locally (they go into the outbox) and returns them. */
function append(store: SqliteStore, from: number, count: number): StoredEvent[] {
  const events = Array.from({ length: count }, (_, i) => event(from + i));
  store.transaction(() => events.forEach((e) => store.appendEvent('aggregator', e)));
  return events;
}

/** Publishes everything in the outbox through `tracer`; resolves once the outbox is empty. */
async function publishAll(store: SqliteStore, js: JetStreamClient, tracer: ReplicationTracer | undefined): Promise<OutboxPublisher> {
  const publisher = new OutboxPublisher({ store, nodeId: 'n1', logger: quiet, deleteAfterEntries: 1, tracer });
  const stop = new AbortController();
  const running = publisher.run(js, stop.signal);
  publisher.notify();
  await until(() => store.outboxDepth() === 0, { timeoutMs: 10_000, intervalMs: 5, message: () => `${store.outboxDepth()} entries left` });
  stop.abort();
  await running;
  return publisher;
}

function named(spans: ReadableSpan[], prefix: string): ReadableSpan[] {
  return spans.filter((s) => s.name.startsWith(prefix));
}

describe('the memory of committed events\' requests', () => {
  it('is bounded: past its capacity the oldest are forgotten; remembering again makes an entry the newest', () => {
    const memory = new EventTraceMemory(3);
    const ctx = (n: number) => ({ traceId: n.toString(16).padStart(32, '0'), spanId: '1'.repeat(16), traceFlags: 1 });
    for (const id of ['a', 'b', 'c']) memory.remember(id, ctx(1));
    memory.remember('a', ctx(2));
    memory.remember('d', ctx(3));
    expect(memory.size).toBe(3);
    expect(memory.get('b')).toBeUndefined();
    expect(memory.get('a')?.traceId).toBe(ctx(2).traceId);
    memory.remember('e', ctx(4));
    expect(memory.get('c')).toBeUndefined();
    expect([memory.get('a'), memory.get('d'), memory.get('e')].every((c) => c !== undefined)).toBe(true);
    memory.forget('a');
    expect(memory.size).toBe(2);
  });
});

describe('publishing a traced request\'s events', () => {
  it('publishes each with a PRODUCER span under the request\'s span and its context in traceparent; untraced ones carry no header', async () => {
    const spans = new InMemorySpanExporter();
    const telemetry = makeTelemetry({ spans });
    const tracer = telemetry.replicationTracer!;
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const traced = request(telemetry, true);
    const untraced = request(telemetry, false);
    rememberTraces(tracer, 'aggregator', append(store, 0, 3), [traced, untraced, traced]);
    expect(tracer.memory.size).toBe(2);

    const { js, published } = fakeJetStream();
    await publishAll(store, js, tracer);
    expect(published.map((p) => p.msgID)).toEqual([`aggregator.d-0.${T0}`, `aggregator.d-1.${T0 + 1}`, `aggregator.d-2.${T0 + 2}`]);
    const publishes = named(spans.getFinishedSpans(), 'publish ');
    expect(publishes).toHaveLength(2);
    const request0 = traced.span!.spanContext();
    for (const [i, p] of [[0, publishes[0]!], [2, publishes[1]!]] as const) {
      expect(p.name).toBe('publish edgeagg.events.aggregator.eu-west');
      expect(p.kind).toBe(SpanKind.PRODUCER);
      expect(p.spanContext().traceId).toBe(request0.traceId);
      expect(p.parentSpanContext?.spanId).toBe(request0.spanId);
      expect(p.attributes).toEqual({
        'messaging.system': 'nats',
        'messaging.operation.name': 'publish',
        'messaging.operation.type': 'send',
        'messaging.destination.name': 'edgeagg.events.aggregator.eu-west',
        'messaging.message.id': `aggregator.d-${i}.${T0 + i}`,
      });
      expect(p.status.code).toBe(SpanStatusCode.UNSET);
      expect(published[i]!.headers.get('traceparent')).toBe(`00-${request0.traceId}-${p.spanContext().spanId}-01`);
    }
    expect(published[1]!.headers.has('traceparent')).toBe(false);
    expect(published[1]!.headers.has('tracestate')).toBe(false);
    // Acknowledged: forgotten.
    expect(tracer.memory.size).toBe(0);
    store.close();
  });

  it('ends the publish span as failed when JetStream refuses, and makes a new one for the retry', async () => {
    const spans = new InMemorySpanExporter();
    const telemetry = makeTelemetry({ spans });
    const tracer = telemetry.replicationTracer!;
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    const traced = request(telemetry, true);
    rememberTraces(tracer, 'aggregator', append(store, 0, 1), [traced]);
    const { js, published } = fakeJetStream((n) => n === 0);
    await publishAll(store, js, tracer);
    const publishes = named(spans.getFinishedSpans(), 'publish ');
    expect(publishes.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(publishes[0]!.attributes['error.type']).toBe('Error');
    expect(publishes.every((s) => s.parentSpanContext?.spanId === traced.span!.spanContext().spanId)).toBe(true);
    expect(published[0]!.headers.get('traceparent')).toBe(`00-${traced.span!.spanContext().traceId}-${publishes[1]!.spanContext().spanId}-01`);
    store.close();
  });

  it('with tracing off there is no tracer: nothing is remembered and no message carries a traceparent', async () => {
    for (const env of [{}, { OTEL_SDK_DISABLED: 'true' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'always_off' }]) {
      expect(makeTelemetry({ env }).replicationTracer, JSON.stringify(env)).toBeUndefined();
    }
    const store = SqliteStore.open({ path: ':memory:', replication: true });
    append(store, 0, 5);
    const { js, published } = fakeJetStream();
    await publishAll(store, js, undefined);
    expect(published).toHaveLength(5);
    for (const p of published) expect([...p.headers.keys()]).toEqual(['Edgeagg-Origin']);
    store.close();
  });
});

describe('receiving a traced message', () => {
  it('starts a CONSUMER span under the publish span named in traceparent; a message without one, or unsampled, makes none', () => {
    const spans = new InMemorySpanExporter();
    const tracer = makeTelemetry({ spans }).replicationTracer!;
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const headers = new Map([['traceparent', `00-${traceId}-b7ad6b7169203331-01`], ['tracestate', 'vendor=x']]);
    const span = tracer.receive('edgeagg.events.aggregator.eu-west', 'aggregator.d-0.1', 'edgeagg_n2', headers)!;
    span.setAttribute('edgeagg.replication.outcome', 'new');
    span.end();
    const [received] = spans.getFinishedSpans();
    expect(received!.name).toBe('process edgeagg.events.aggregator.eu-west');
    expect(received!.kind).toBe(SpanKind.CONSUMER);
    expect(received!.spanContext().traceId).toBe(traceId);
    expect(received!.parentSpanContext).toMatchObject({ spanId: 'b7ad6b7169203331', isRemote: true });
    expect(received!.spanContext().traceState?.get('vendor')).toBe('x');
    expect(received!.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'edgeagg.events.aggregator.eu-west',
      'messaging.consumer.group.name': 'edgeagg_n2',
      'messaging.message.id': 'aggregator.d-0.1',
      'edgeagg.replication.outcome': 'new',
    });
    // NATS answers "" for a header a message lacks.
    expect(tracer.receive('s', 'id', 'c', { get: () => '' })).toBeUndefined();
    expect(tracer.receive('s', 'id', 'c', new Map([['traceparent', 'garbage']]))).toBeUndefined();
    expect(tracer.receive('s', 'id', 'c', new Map([['traceparent', `00-${traceId}-b7ad6b7169203331-00`]]))).toBeUndefined();
    expect(spans.getFinishedSpans()).toHaveLength(1);
  });
});

describe('the write path', () => {
  it('tells onCommitted which request each new event came from, in the order of the events', async () => {
    const calls: Array<{ events: StoredEvent[]; traces: unknown[] }> = [];
    let n = 0;
    const module = {
      // Each request appends one new event, or none when its body says "dup".
      invokeHttp: (req: { body: Uint8Array }) => ({ status: 200, headers: {}, body: new Uint8Array(0), newEvents: Buffer.from(req.body).toString() === 'dup' ? [] : [event(n++), event(n++)] }),
      invokeEvents: () => undefined,
    } as unknown as GuestModule;
    const pipeline = new IngestPipeline({
      store: { transaction: (fn) => fn(), atomically: (fn) => fn() },
      module,
      onCommitted: (events, traces) => calls.push({ events, traces }),
    });
    const body = (s: string) => ({ method: 'POST', path: '/v1/readings', query: '', contentType: 'text/plain', principal: { kind: 'gateway', subject: 't' }, body: Buffer.from(s) }) as never;
    // One group of three requests (submitted in the same turn), the second with nothing new.
    await Promise.all([pipeline.submit(body('a'), 'trace-a'), pipeline.submit(body('dup'), 'trace-b'), pipeline.submit(body('c'))]);
    await pipeline.submitEvents([event(100)], () => 'new');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.events.map((e) => e.source)).toEqual(['d-0', 'd-1', 'd-2', 'd-3']);
    expect(calls[0]!.traces).toEqual(['trace-a', 'trace-a', undefined, undefined]);
    expect(calls[1]!.traces).toEqual([undefined]);
  });
});
