/**
 * The node's durable JetStream consumers: one for every partition (region) it follows, or one for all.
 * Messages that arrive together go through the ingest pipeline's `submitEvents` together (the same dedup
 * and fold as local readings, stored in one group commit) and are acknowledged one by one only after that
 * resolved, i.e. once the events are durable here. A message that this node published itself is
 * acknowledged without being decoded. A commit that fails leaves its messages unacknowledged (they are
 * redelivered); a message that cannot be decoded is terminated and counted.
 */
import type { JsMsg, JetStreamClient, JetStreamManager, ConsumerMessages } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, PubHeaders, ReplayPolicy } from '@nats-io/jetstream';
import type { StoredEvent } from '../runtime/index.js';
import type { Logger } from '../telemetry/index.js';
import type { EventSink } from './anti-entropy.js';
import { decodeEvent } from './codec.js';
import { JETSTREAM_STREAM, ORIGIN_HEADER, consumerName, eventFilter, isConsumerOf, parseEventSubject } from './subjects.js';
import type { MessageSpan, ReplicationTracer } from './tracing.js';

export interface ReplicatedEventStore {
  appendReplicatedEvent(stream: string, event: StoredEvent): 'new' | 'duplicate' | 'conflict';
}

export interface EventConsumerOptions {
  nodeId: string;
  /** The stream this node folds (its aggregator module's name); messages of other streams are skipped. */
  stream: string;
  /** Partitions to follow; empty: all of them. */
  partitions: readonly string[];
  store: ReplicatedEventStore;
  sink: EventSink;
  logger: Logger;
  /** Most unacknowledged messages the server delivers to one consumer. @default 10000 */
  maxAckPending?: number;
  /** Most events folded in one call of `submitEvents`. @default 2000 */
  foldBatch?: number;
  /** Told of the events a fold found new, with the origin node of each. */
  onApplied?: (events: StoredEvent[], origins: string[]) => void;
  /** Spans of the folds of messages that carry a trace context. @default none (tracing off) */
  tracer?: ReplicationTracer;
}

export interface ConsumerStats {
  received: number;
  /** Events that were new here. */
  applied: number;
  duplicates: number;
  conflicts: number;
  /** This node's own messages. */
  own: number;
  undecodable: number;
  foldFailures: number;
  /** Messages the server still holds for this node's consumers, as of the last message received. */
  pending: number;
  /** Milliseconds from JetStream storing the last applied message to its fold here being durable. */
  lastLagMs: number | undefined;
  /** When the last message was stored by JetStream (its timestamp), and when it was folded here. */
  lastStoredAt: number | undefined;
  lastFoldedAt: number | undefined;
}

interface Received {
  msg: JsMsg;
  /** Undefined for messages that are acknowledged without folding. */
  event: StoredEvent | undefined;
  origin: string;
  /** The span of its fold here, when it carries a sampled trace context (and tracing is on). */
  span?: MessageSpan | undefined;
}

export class EventConsumer {
  readonly stats: ConsumerStats = {
    received: 0, applied: 0, duplicates: 0, conflicts: 0, own: 0, undecodable: 0, foldFailures: 0,
    pending: 0, lastLagMs: undefined, lastStoredAt: undefined, lastFoldedAt: undefined,
  };
  private batch: Received[] = [];
  private flushScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly pendingByConsumer = new Map<string, number>();

  constructor(private readonly options: EventConsumerOptions) {}

  /** Messages received and not yet acknowledged (waiting for their fold, or being folded). */
  private inFlight = 0;

  /** True while the server has messages this node has not received yet, or folds are in progress. */
  get catchingUp(): boolean {
    return this.stats.pending > 0 || this.inFlight > 0;
  }

  /** Creates the consumers if needed (and deletes this node's consumers for partitions it no longer follows). */
  async ensure(jsm: JetStreamManager): Promise<string[]> {
    const wanted = new Map<string, string>();
    if (this.options.partitions.length === 0) wanted.set(consumerName(this.options.nodeId), eventFilter(this.options.stream));
    else for (const p of this.options.partitions) wanted.set(consumerName(this.options.nodeId, p), eventFilter(this.options.stream, p));
    for await (const info of jsm.consumers.list(JETSTREAM_STREAM)) {
      const name = info.name;
      if (!isConsumerOf(name, this.options.nodeId)) continue;
      const filter = wanted.get(name);
      if (filter !== undefined && info.config.filter_subject === filter) {
        wanted.delete(name);
        continue;
      }
      await jsm.consumers.delete(JETSTREAM_STREAM, name);
      this.options.logger.info('deleted a consumer this node no longer uses', { consumer: name });
    }
    for (const [name, filter] of wanted) {
      await jsm.consumers.add(JETSTREAM_STREAM, {
        durable_name: name,
        filter_subject: filter,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        // Redelivery of what a crashed node received but had not folded yet.
        ack_wait: 10_000_000_000,
        max_deliver: -1,
        max_ack_pending: this.options.maxAckPending ?? 10_000,
      });
      this.options.logger.info('created a durable consumer', { consumer: name, filter });
    }
    const names =
      this.options.partitions.length === 0
        ? [consumerName(this.options.nodeId)]
        : this.options.partitions.map((p) => consumerName(this.options.nodeId, p));
    // Where each consumer stands before the first message arrives: a node that was offline says it is
    // catching up from its first heartbeat on.
    this.pendingByConsumer.clear();
    for (const name of names) {
      const info = await jsm.consumers.info(JETSTREAM_STREAM, name);
      this.pendingByConsumer.set(name, info.num_pending);
    }
    this.stats.pending = [...this.pendingByConsumer.values()].reduce((a, b) => a + b, 0);
    return names;
  }

  /**
   * Consumes until `signal` aborts, then waits for the folds in progress. Throws when a consumer or the
   * stream disappears (the caller sets them up again).
   */
  async run(js: JetStreamClient, names: string[], signal: AbortSignal): Promise<void> {
    const running: ConsumerMessages[] = [];
    let failure: Error | undefined;
    const failed = new AbortController();
    try {
      for (const name of names) {
        const consumer = await js.consumers.get(JETSTREAM_STREAM, name);
        const messages = await consumer.consume({
          max_messages: 4000,
          // Pull requests last 5 s instead of 30: one left behind by a connection that died (a crash) can
          // take messages only until it expires, and those are redelivered after the ack wait.
          expires: 5_000,
          callback: (msg) => this.receive(name, msg),
        });
        running.push(messages);
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === 'consumer_deleted' || ((s.type === 'consumer_not_found' || s.type === 'stream_not_found') && ('count' in s ? s.count : 1) >= 2)) {
              failure = new Error(`JetStream reports ${s.type} for consumer ${name}`);
              failed.abort();
              return;
            }
          }
        })().catch(() => undefined);
      }
      await new Promise<void>((resolve) => {
        if (signal.aborted || failed.signal.aborted) return resolve();
        const done = (): void => {
          signal.removeEventListener('abort', done);
          failed.signal.removeEventListener('abort', done);
          resolve();
        };
        signal.addEventListener('abort', done, { once: true });
        failed.signal.addEventListener('abort', done, { once: true });
      });
    } finally {
      for (const m of running) m.stop();
      this.flush();
      await this.chain;
    }
    if (failure) throw failure;
  }

  private receive(consumer: string, msg: JsMsg): void {
    this.stats.received++;
    this.pendingByConsumer.set(consumer, msg.info.pending);
    let pending = 0;
    for (const p of this.pendingByConsumer.values()) pending += p;
    this.stats.pending = pending;
    const origin = msg.headers?.get(ORIGIN_HEADER) ?? '';
    if (origin === this.options.nodeId) {
      this.stats.own++;
      this.batch.push({ msg, event: undefined, origin });
    } else {
      let event: StoredEvent | undefined;
      try {
        const subject = parseEventSubject(msg.subject);
        if (subject === undefined) throw new Error(`not an event subject: ${msg.subject}`);
        if (subject.stream === this.options.stream) event = decodeEvent(msg.data);
      } catch (error) {
        this.stats.undecodable++;
        this.options.logger.warn('dropped a message that is not an event', { subject: msg.subject, error });
        msg.term();
        return;
      }
      // A span per traced message, its parent the publish span on the node that sent it, rather than one
      // span per batch with links to each message: a batch mixes readings of many requests and nodes,
      // and a trace viewer follows parents, not links, so a reading's trace would stop at the publish.
      // Each message's span covers its whole batch's fold (one transaction), as each request's
      // store.commit span covers its whole group. Untraced messages make none.
      const tracer = this.options.tracer;
      const span = tracer && event !== undefined && msg.headers ? tracer.receive(msg.subject, msg.headers.get(PubHeaders.MsgIdHdr), consumer, msg.headers) : undefined;
      this.batch.push({ msg, event, origin, span });
    }
    this.inFlight++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything parsed from the socket in this turn joins one fold.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const max = this.options.foldBatch ?? 4000;
    while (this.batch.length > 0) {
      const group = this.batch.splice(0, max);
      this.chain = this.chain.then(() => this.fold(group));
    }
  }

  private async fold(group: Received[]): Promise<void> {
    try {
      await this.foldGroup(group);
    } finally {
      this.inFlight -= group.length;
    }
  }

  private async foldGroup(group: Received[]): Promise<void> {
    const withEvents = group.filter((r) => r.event !== undefined);
    try {
      if (withEvents.length > 0) {
        const events = withEvents.map((r) => r.event!);
        const { outcomes } = await this.options.sink.submitEvents(events, (e) => this.options.store.appendReplicatedEvent(this.options.stream, e));
        const fresh: StoredEvent[] = [];
        const origins: string[] = [];
        outcomes.forEach((o, i) => {
          const span = withEvents[i]!.span;
          if (span) {
            span.setAttribute('edgeagg.replication.outcome', o);
            span.setAttribute('messaging.batch.message_count', withEvents.length);
          }
          if (o === 'new') {
            this.stats.applied++;
            fresh.push(events[i]!);
            origins.push(withEvents[i]!.origin);
          } else if (o === 'duplicate') this.stats.duplicates++;
          else this.stats.conflicts++;
        });
        const now = Date.now();
        const last = withEvents[withEvents.length - 1]!.msg;
        this.stats.lastStoredAt = Math.round(last.info.timestampNanos / 1e6);
        this.stats.lastFoldedAt = now;
        this.stats.lastLagMs = Math.max(0, now - this.stats.lastStoredAt);
        if (fresh.length > 0) this.options.onApplied?.(fresh, origins);
      }
    } catch (error) {
      this.stats.foldFailures++;
      this.options.logger.error('folding replicated events failed; they will be redelivered', { error, events: withEvents.length });
      for (const r of group) {
        r.msg.nak(1_000);
        r.span?.end(error);
      }
      return;
    }
    // Durable now: acknowledge.
    for (const r of group) {
      r.msg.ack();
      r.span?.end();
    }
  }
}
