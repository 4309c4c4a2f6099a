/**
 * Drains the outbox to JetStream. Each event is one message on its partition's subject, with a message id
 * derived from its identity (JetStream stores a message id once within its duplicate window) and a header
 * naming this node (consumers skip their own events without decoding them). An entry counts as sent only
 * once JetStream acknowledged it; acknowledged entries are deleted from the outbox in bulk (one
 * transaction per few thousand, or every few seconds), since deleting them one commit at a time would
 * write more pages than inserting them. An entry acknowledged but not yet deleted when the node stops is
 * sent again at the next start: JetStream or the receivers' dedup drop it.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../telemetry/index.js';
import type { OutboxEntry } from '../store/index.js';
import { backoffDelay, sleep } from '../resilience/index.js';
import { PUBLISH_BACKOFF } from './backoff.js';
import { encodeEvent } from './codec.js';
import { ORIGIN_HEADER, eventSubject, messageId } from './subjects.js';
import type { ReplicationTracer } from './tracing.js';

export interface OutboxStore {
  readOutbox(after: number, limit: number): OutboxEntry[];
  deleteOutboxThrough(seq: number): number;
  outboxBounds(): { first: number; last: number } | undefined;
}

export interface OutboxPublisherOptions {
  store: OutboxStore;
  nodeId: string;
  logger: Logger;
  /** Messages published (and awaited) together. @default 1000 */
  batchSize?: number;
  /** Milliseconds to wait for JetStream's acknowledgement of a message. @default 5000 */
  ackTimeoutMs?: number;
  /** Acknowledged entries that trigger a delete. @default 5000 */
  deleteAfterEntries?: number;
  /** Milliseconds after which acknowledged entries are deleted however few. @default 5000 */
  deleteAfterMs?: number;
  /**
   * Resolves once every commit made before the call is on disk (the WAL sync of group commit). Entries are
   * published only then: a reading must not reach the fleet before its own node has made it durable, or a
   * power cut could leave the fleet with a reading its origin lost. @default none: commits are durable when
   * they return
   */
  durable?: () => Promise<void>;
  /** Publish spans, and the trace context in the headers of a traced request's events. @default none (tracing off) */
  tracer?: ReplicationTracer;
}

export interface PublisherStats {
  published: number;
  /** Acknowledged as duplicates: JetStream had the message id already (a retry, or another node sent it). */
  duplicates: number;
  failures: number;
  lastAckAt: number | undefined;
  lastFailureAt: number | undefined;
  lastError: string | undefined;
}

export class OutboxPublisher {
  /** Every entry up to this position is acknowledged. */
  private ackedThrough = 0;
  private deletedThrough = 0;
  private lastDeleteAt = Date.now();
  private wake: (() => void) | undefined;
  private pendingWake = false;
  readonly stats: PublisherStats = { published: 0, duplicates: 0, failures: 0, lastAckAt: undefined, lastFailureAt: undefined, lastError: undefined };

  constructor(private readonly options: OutboxPublisherOptions) {}

  /** New entries were committed: publish them now rather than at the next poll. */
  notify(): void {
    this.pendingWake = true;
    this.wake?.();
  }

  /** Entries not yet acknowledged. */
  depth(): number {
    const bounds = this.options.store.outboxBounds();
    if (bounds === undefined) return 0;
    return Math.max(0, bounds.last - Math.max(bounds.first - 1, this.ackedThrough));
  }

  /** Publishes until `signal` aborts. Failures are retried with backoff; it never throws. */
  async run(js: JetStreamClient, signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    const batchSize = this.options.batchSize ?? 1000;
    let attempt = 0;
    while (!signal.aborted) {
      let entries: OutboxEntry[];
      try {
        entries = await this.readDurable(batchSize);
      } catch (error) {
        logger.error('cannot read the outbox', { error });
        await sleep(backoffDelay(PUBLISH_BACKOFF, attempt++), signal);
        continue;
      }
      if (entries.length === 0) {
        this.deleteAcknowledged(false);
        await this.idle(signal, 1_000);
        continue;
      }
      const failure = await this.publish(js, entries);
      this.deleteAcknowledged(false);
      if (failure === undefined) {
        attempt = 0;
        continue;
      }
      this.stats.failures++;
      this.stats.lastFailureAt = Date.now();
      this.stats.lastError = failure instanceof Error ? failure.message : String(failure);
      if (signal.aborted) break;
      const delay = backoffDelay(PUBLISH_BACKOFF, attempt++);
      if (attempt === 1 || attempt % 20 === 0) logger.warn('publishing to JetStream failed; retrying', { error: this.stats.lastError, retryInMs: delay });
      await sleep(delay, signal);
    }
  }

  /** The next entries, only those known to be on disk. */
  private async readDurable(limit: number): Promise<OutboxEntry[]> {
    const { store, durable } = this.options;
    if (durable === undefined) return store.readOutbox(this.ackedThrough, limit);
    // Everything committed up to here is on disk once `durable` resolves; later entries wait for the next round.
    const last = store.outboxBounds()?.last;
    if (last === undefined || last <= this.ackedThrough) return [];
    await durable();
    return store.readOutbox(this.ackedThrough, limit).filter((entry) => entry.seq <= last);
  }

  /** Deletes what was acknowledged, now (the node is stopping). */
  flush(): void {
    this.deleteAcknowledged(true);
  }

  /** Publishes `entries` together; advances over the acknowledged prefix; returns the first failure. */
  private async publish(js: JetStreamClient, entries: OutboxEntry[]): Promise<unknown> {
    const timeout = this.options.ackTimeoutMs ?? 5_000;
    const results = await Promise.allSettled(
      entries.map((entry) => {
        const event = entry.event;
        // The event left the log (pruned): nothing to send.
        if (event === undefined) return Promise.resolve(undefined);
        const h = natsHeaders();
        h.set(ORIGIN_HEADER, this.options.nodeId);
        const subject = eventSubject(entry.stream, event.partition);
        const msgID = messageId(entry.stream, event);
        const span = this.options.tracer?.publish(subject, msgID, h);
        const acked = js.publish(subject, encodeEvent(event), { msgID, headers: h, timeout });
        if (span === undefined) return acked;
        return acked.then(
          (ack) => {
            if (ack.duplicate) span.setAttribute('edgeagg.replication.duplicate', true);
            span.end();
            return ack;
          },
          (error: unknown) => {
            span.end(error);
            throw error;
          },
        );
      }),
    );
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r.status === 'rejected') return r.reason;
      this.ackedThrough = entries[i]!.seq;
      if (r.value !== undefined) {
        this.stats.published++;
        if (r.value.duplicate) this.stats.duplicates++;
      }
    }
    this.stats.lastAckAt = Date.now();
    return undefined;
  }

  private deleteAcknowledged(force: boolean): void {
    const waiting = this.ackedThrough - this.deletedThrough;
    if (waiting <= 0) return;
    const due =
      force ||
      waiting >= (this.options.deleteAfterEntries ?? 5_000) ||
      Date.now() - this.lastDeleteAt >= (this.options.deleteAfterMs ?? 5_000);
    if (!due) return;
    try {
      this.options.store.deleteOutboxThrough(this.ackedThrough);
      this.deletedThrough = this.ackedThrough;
      this.lastDeleteAt = Date.now();
      // Positions are rowids: once the outbox is empty, SQLite numbers the next entry 1 again.
      if (this.options.store.outboxBounds() === undefined) this.ackedThrough = this.deletedThrough = 0;
    } catch (error) {
      // Kept for the next attempt; entries left behind are only sent again.
      this.options.logger.warn('cannot delete acknowledged outbox entries', { error });
    }
  }

  /** Waits for {@link notify}, `ms`, or the end of the session, whichever comes first. */
  private async idle(signal: AbortSignal, ms: number): Promise<void> {
    if (this.pendingWake || signal.aborted) {
      this.pendingWake = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
    this.pendingWake = false;
  }
}
