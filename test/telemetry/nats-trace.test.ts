/**
 * A reading followed across the fleet: a real nats-server and two real node processes, both exporting
 * traces over OTLP/HTTP to a receiver in this process (configured only by the standard OTEL_* variables).
 * One reading is sent to node A with a known `traceparent`; the receiver must get, in that trace, A's
 * request span, A's publish span (PRODUCER, a child of the request span) and B's span of its fold
 * (CONSUMER, a child of the publish span), decoded. A plain core NATS subscription sees the messages as
 * they go by: the traced one carries the publish span's context in `traceparent`, an unsampled one none.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer } from '../replication/helpers/nats-server.js';
import { eventually, sleep, until } from '../helpers/poll.js';
import { TestFleet, getJson } from '../replication/helpers/fleet.js';
import { OtlpReceiver, type OtlpSpan } from './helpers/servers.js';

const SERVER = 2; // OTLP SpanKind
const PRODUCER = 4;
const CONSUMER = 5;
const STATUS_ERROR = 2;
const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE;

const traced = { traceId: '5b8efff798038103d269b633813fc60c', parent: 'eee19b7ec3c1b174' };
const unsampled = { traceId: '00112233445566778899aabbccddeeff', parent: '0102030405060708' };

interface FleetView {
  nats: { state: string; jetstream: string };
  consumer: { applied: number };
}

describe("a reading's trace, from the node that took it to the node that folded it in", () => {
  let nats: NatsServer;
  let receiver: OtlpReceiver;
  let fleet: TestFleet;
  let watcher: NatsConnection;
  let gateway: string;
  let reader: string;
  /** Every event message seen on NATS: its message id and its headers. */
  const seen: Array<{ id: string; headers: Map<string, string> }> = [];

  const spansOf = (traceId: string): OtlpSpan[] => receiver.spans().filter((s) => s.traceId === traceId);

  async function send(device: string, timestamp: number, traceparent: string): Promise<void> {
    const res = await fleet.node('trace-a').postReadings({ device_id: device, region: 'eu-west', temperature_c: 21.5, timestamp }, gateway, { traceparent });
    expect(res.status, await res.text()).toBe(200);
  }

  beforeAll(async () => {
    nats = await NatsServer.start();
    receiver = await OtlpReceiver.start();
    fleet = new TestFleet(['trace-a', 'trace-b'], nats.url, {}, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.port}/v1/traces`,
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    await Promise.all([fleet.start('trace-a'), fleet.start('trace-b')]);
    gateway = await fleet.node('trace-a').token('gateway');
    reader = await fleet.node('trace-a').token('read');
    // Both nodes have their stream and durable consumer before anything is sent.
    for (const name of ['trace-a', 'trace-b']) {
      await until(
        async () => {
          const f = await getJson<FleetView>(fleet.node(name), '/v1/fleet', reader);
          return f.nats.state === 'connected' && f.nats.jetstream === 'ok';
        },
        { timeoutMs: 20_000, intervalMs: 250, message: () => `${name} never reached JetStream:\n${fleet.node(name).stderr}` },
      );
    }
    watcher = await connect({ servers: nats.url });
    watcher.subscribe('edgeagg.events.>', {
      callback: (error, msg) => {
        if (error || !msg.headers) return;
        const headers = new Map([...msg.headers].map(([k, v]) => [k, v[0]!]));
        seen.push({ id: headers.get('Nats-Msg-Id') ?? '', headers });
      },
    });
    await watcher.flush();
    await send('trace-sensor-1', base, `00-${traced.traceId}-${traced.parent}-01`);
    await send('trace-sensor-2', base + 1000, `00-${unsampled.traceId}-${unsampled.parent}-00`);
  });

  afterAll(async () => {
    await watcher?.close();
    await fleet?.cleanup();
    await receiver?.stop();
    await nats?.cleanup();
  });

  it("exports A's request span, A's publish span under it, and B's fold span under the publish span, all in the caller's trace", async () => {
    const spans = await eventually(
      () => {
        const s = spansOf(traced.traceId);
        return s.some((x) => x.kind === CONSUMER) && s.some((x) => x.kind === PRODUCER) ? s : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, message: "waiting for the reading's spans on both nodes" },
    );
    const nodeOf = (s: OtlpSpan): unknown => s.resource['service.instance.id'];

    const request = spans.filter((s) => s.kind === SERVER);
    expect(request.map((s) => [s.name, nodeOf(s)])).toEqual([['POST /v1/readings', 'trace-a']]);
    expect(request[0]!.parentSpanId).toBe(traced.parent);

    const publish = spans.filter((s) => s.kind === PRODUCER);
    expect(publish).toHaveLength(1);
    const p = publish[0]!;
    expect(nodeOf(p)).toBe('trace-a');
    expect(p.name).toBe('publish edgeagg.events.aggregator.eu-west');
    expect(p.parentSpanId).toBe(request[0]!.spanId);
    expect(p.status).not.toBe(STATUS_ERROR);
    expect(p.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'edgeagg.events.aggregator.eu-west',
      'messaging.message.id': `aggregator.trace-sensor-1.${base}`,
    });

    // Only B folds it: A skips its own message (and makes no span for it).
    const fold = spans.filter((s) => s.kind === CONSUMER);
    expect(fold.map(nodeOf)).toEqual(['trace-b']);
    const f = fold[0]!;
    expect(f.name).toBe('process edgeagg.events.aggregator.eu-west');
    expect(f.parentSpanId).toBe(p.spanId);
    expect(f.status).not.toBe(STATUS_ERROR);
    expect(f.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'edgeagg.events.aggregator.eu-west',
      'messaging.message.id': `aggregator.trace-sensor-1.${base}`,
      'messaging.consumer.group.name': 'edgeagg_trace-b',
      'edgeagg.replication.outcome': 'new',
    });
  });

  it('the message carries the publish span in traceparent; an unsampled request\'s message carries none', async () => {
    const byId = await eventually(
      () => {
        const m = new Map(seen.map((s) => [s.id, s.headers]));
        return m.has(`aggregator.trace-sensor-1.${base}`) && m.has(`aggregator.trace-sensor-2.${base + 1000}`) ? m : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'waiting for both messages on NATS' },
    );
    const publish = spansOf(traced.traceId).find((s) => s.kind === PRODUCER);
    expect(publish, 'the publish span (first test)').toBeDefined();
    expect(byId.get(`aggregator.trace-sensor-1.${base}`)!.get('traceparent')).toBe(`00-${traced.traceId}-${publish!.spanId}-01`);
    const plain = byId.get(`aggregator.trace-sensor-2.${base + 1000}`)!;
    expect([...plain.keys()].sort()).toEqual(['Edgeagg-Origin', 'Nats-Msg-Id']);
    // B folded it all the same, without a span.
    await until(async () => (await getJson<FleetView>(fleet.node('trace-b'), '/v1/fleet', reader)).consumer.applied === 2, { timeoutMs: 20_000, intervalMs: 250, message: 'B did not fold both readings' });
    await sleep(500);
    expect(spansOf(unsampled.traceId)).toEqual([]);
  });
});
