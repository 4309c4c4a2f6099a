/**
 * Anti-entropy over core NATS request/reply: a node answers `edgeagg.ae.<node>.digests|events|apply` for
 * its own store, and reaches a peer's through {@link RemoteReplica}. Control messages are JSON; events travel
 * in the binary encoding of codec.ts. A failure is answered `{"error": ...}` (and thrown on the asking side).
 */
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { StoredEvent } from '../runtime/index.js';
import type { EventDigest } from '../store/index.js';
import type { Logger } from '../telemetry/index.js';
import type { ApplyResult, DigestQuery, EventsQuery, Replica } from './anti-entropy.js';
import { decodeApply, decodeEventPage, encodeApply, encodeEventPage, type EventPageBody } from './codec.js';
import { ANTI_ENTROPY_PREFIX, antiEntropySubject, token, type AntiEntropyOperation } from './subjects.js';

export class AntiEntropyRequestError extends Error {
  override name = 'AntiEntropyRequestError';
}

/** Digests are sent in pages of this many. */
const DIGESTS_PER_REPLY = 5_000;
/** Events are sent in messages of at most about this many bytes (NATS refuses messages over 1 MiB by default). */
const MAX_EVENT_BYTES = 512 * 1024;

/** Bytes an event takes in a page or an apply request. */
function eventSize(e: StoredEvent): number {
  return 16 + Buffer.byteLength(e.partition) + Buffer.byteLength(e.source) + e.payload.length;
}

interface DigestRequest extends DigestQuery {
  offset?: number;
}

interface DigestReply {
  digests: Array<[partition: string, bucket: number, count: number, h1: number, h2: number]>;
  more: boolean;
}

/** A peer's side of a round, reached over NATS. */
export class RemoteReplica implements Replica {
  constructor(
    private readonly nc: NatsConnection,
    private readonly peerId: string,
    /** @default 10000 */
    private readonly timeoutMs = 10_000,
  ) {}

  async digests(query: DigestQuery): Promise<EventDigest[]> {
    const out: EventDigest[] = [];
    for (let offset = 0; ; ) {
      const reply = JSON.parse(Buffer.from(await this.request('digests', json({ ...query, offset } satisfies DigestRequest))).toString('utf8')) as DigestReply;
      for (const [partition, bucket, count, h1, h2] of reply.digests) out.push({ partition, bucket, count, h1, h2 });
      if (!reply.more) return out;
      offset += reply.digests.length;
    }
  }

  async events(query: EventsQuery): Promise<EventPageBody> {
    return decodeEventPage(await this.request('events', json(query)));
  }

  async apply(stream: string, events: StoredEvent[]): Promise<ApplyResult> {
    const total: ApplyResult = { new: 0, duplicate: 0, conflict: 0 };
    for (let i = 0; i < events.length; ) {
      let bytes = 0;
      let end = i;
      while (end < events.length && (end === i || bytes + eventSize(events[end]!) <= MAX_EVENT_BYTES)) bytes += eventSize(events[end++]!);
      const r = JSON.parse(Buffer.from(await this.request('apply', encodeApply(stream, events.slice(i, end)))).toString('utf8')) as ApplyResult;
      total.new += r.new;
      total.duplicate += r.duplicate;
      total.conflict += r.conflict;
      i = end;
    }
    return total;
  }

  private async request(operation: AntiEntropyOperation, body: Uint8Array): Promise<Uint8Array> {
    const reply = await this.nc.request(antiEntropySubject(this.peerId, operation), body, { timeout: this.timeoutMs });
    const data = reply.data;
    if (reply.headers?.get('Edgeagg-Error')) throw new AntiEntropyRequestError(`${this.peerId}: ${reply.headers.get('Edgeagg-Error')}`);
    return data;
  }
}

/**
 * Answers anti-entropy requests for `replica`. `ready()` false (digests still being rebuilt) refuses digest
 * requests, so no peer compares against incomplete digests.
 */
export function serveAntiEntropy(
  nc: NatsConnection,
  nodeId: string,
  replica: Replica,
  ready: () => boolean,
  logger: Logger,
): Subscription {
  const prefix = `${ANTI_ENTROPY_PREFIX}.${token(nodeId)}.`;
  return nc.subscribe(`${prefix}*`, {
    callback: (error, msg) => {
      if (error) return;
      void answer(msg, msg.subject.slice(prefix.length) as AntiEntropyOperation).catch((e: unknown) => {
        logger.warn('anti-entropy request failed', { subject: msg.subject, error: e });
        fail(msg, e instanceof Error ? e.message : String(e));
      });
    },
  });

  async function answer(msg: Msg, operation: AntiEntropyOperation): Promise<void> {
    switch (operation) {
      case 'digests': {
        if (!ready()) return fail(msg, 'digests are being rebuilt');
        const q = JSON.parse(msg.string()) as DigestRequest;
        const all = await replica.digests(q);
        // A stable order, so that offsets page through the same list.
        all.sort((a, b) => a.bucket - b.bucket || (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
        const offset = q.offset ?? 0;
        const page = all.slice(offset, offset + DIGESTS_PER_REPLY);
        const reply: DigestReply = { digests: page.map((d) => [d.partition, d.bucket, d.count, d.h1, d.h2]), more: offset + page.length < all.length };
        msg.respond(json(reply));
        return;
      }
      case 'events': {
        const q = JSON.parse(msg.string()) as EventsQuery;
        const page = await replica.events({ ...q, limit: Math.min(q.limit, 5_000) });
        let bytes = 0;
        let end = 0;
        while (end < page.events.length && (end === 0 || bytes + eventSize(page.events[end]!) <= MAX_EVENT_BYTES)) bytes += eventSize(page.events[end++]!);
        if (end < page.events.length) {
          const last = page.events[end - 1]!;
          page.events = page.events.slice(0, end);
          page.next = { timeMs: last.timeMs, source: last.source };
        }
        msg.respond(encodeEventPage(page));
        return;
      }
      case 'apply': {
        const { stream, events } = decodeApply(msg.data);
        msg.respond(json(await replica.apply(stream, events)));
        return;
      }
      default:
        fail(msg, `unknown operation ${String(operation)}`);
    }
  }
}

function fail(msg: Msg, message: string): void {
  msg.respond(new Uint8Array(0), { headers: errorHeaders(message) });
}

function errorHeaders(message: string) {
  const h = natsHeaders();
  h.set('Edgeagg-Error', message.replace(/[\r\n]+/g, ' ').slice(0, 500));
  return h;
}

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
