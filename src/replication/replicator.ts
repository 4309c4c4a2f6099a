/**
 * Replication of a node's events across the fleet, over NATS JetStream, with anti-entropy behind it.
 *
 *   local commit ──► outbox (same transaction) ──► OutboxPublisher ──► JetStream stream EDGEAGG_EVENTS
 *                                                                         │ edgeagg.events.<stream>.<partition>
 *   pipeline.submitEvents ◄── EventConsumer (durable, per node) ◄─────────┘
 *   pipeline.submitEvents ◄── anti-entropy rounds (digests per partition and minute, core NATS request/reply)
 *
 * Everything runs inside sessions of one {@link FleetConnection}: when NATS is unreachable the node keeps
 * ingesting (the outbox grows), and when it returns the session publishes the backlog, the consumer
 * catches up from its durable position, and anti-entropy repairs whatever JetStream lost.
 */
import { StorageType, RetentionPolicy, DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StoredEvent } from '../runtime/index.js';
import type { EventDigest, EventCursor, OutboxEntry } from '../store/index.js';
import type { Logger } from '../telemetry/index.js';
import { LocalReplica, type EventSink } from './anti-entropy.js';
import { AntiEntropyRounds } from './anti-entropy-rounds.js';
import { serveAntiEntropy } from './ae-transport.js';
import { backoffDelay, sleep } from '../resilience/index.js';
import { RECONNECT_BACKOFF } from './backoff.js';
import { FleetConnection, type ConnectionStatus } from './connection.js';
import type { NatsAuthOptions } from './nats-auth.js';
import { EventConsumer } from './consumer.js';
import { FleetView, fleetMember, parseHeartbeat, renderFleet, type AppVersionsSeen, type FleetInfo, type Heartbeat, type JetStreamState, type ReplicationStats } from './fleet.js';
import { publishRollout, type PublishRolloutOptions, type PublishedRollout } from './rollout-channel.js';
import { RolloutError } from './rollout-errors.js';
import type { RolloutRecord } from './rollout-record.js';
import { RolloutWatcher, type RolloutWatcherOptions } from './rollout-watcher.js';
import { OutboxPublisher } from './publisher.js';
import { gossipRevocations, type RevocationStore } from './revocation-gossip.js';
import { EVENTS_PREFIX, HEARTBEAT_SUBJECT, JETSTREAM_STREAM } from './subjects.js';
import { rememberTraces, type ReplicationTracer } from './tracing.js';
import type { EventPageBody } from './codec.js';

/** The store as replication uses it (src/store SqliteStore opened with `replication: true`). */
export interface ReplicationStore extends RevocationStore {
  readOutbox(after: number, limit: number): OutboxEntry[];
  deleteOutboxThrough(seq: number): number;
  outboxBounds(): { first: number; last: number } | undefined;
  appendReplicatedEvent(stream: string, event: StoredEvent): 'new' | 'duplicate' | 'conflict';
  eventDigests(stream: string, query: { level: 'minute' | 'hour'; fromMinute: number; toMinute: number; partition?: string }): EventDigest[];
  readEventsInRange(stream: string, options: { fromMs: number; toMs: number; partition?: string; after?: EventCursor; limit?: number }): EventPageBody;
  rebuildDigests(stream: string, fromMinute: number, toMinute: number): number;
  pruneDigests(stream: string, beforeMinute: number): void;
  digestsComplete(): boolean;
  markDigestsComplete(fromMinute: number): void;
}

export interface ReplicatorOptions {
  /** This node's id in the fleet: in message headers, consumer names and heartbeats. */
  nodeId: string;
  /** NATS server URLs. */
  servers: string[];
  /** TLS and credentials for the servers. @default none: plain, anonymous */
  auth?: NatsAuthOptions;
  store: ReplicationStore;
  /** The write path that folds events from elsewhere (src/ingest IngestPipeline). */
  sink: EventSink;
  /** The event stream replicated: the aggregator module's name. */
  stream: string;
  /** Partitions (regions) this node follows; empty: all. It publishes its own events of every partition. */
  regions: readonly string[];
  /** Events older than this are not compared by anti-entropy; also the JetStream stream's max age when this node creates it. */
  gracePeriodMs: number;
  /** How far in the future an event may be: digests are rebuilt up to there (and a day more). */
  maxFutureMs: number;
  /** Milliseconds between anti-entropy rounds (with ±20% jitter). @default 30000 */
  antiEntropyIntervalMs?: number;
  /** Milliseconds between heartbeats. @default 2000 */
  heartbeatIntervalMs?: number;
  /** Milliseconds between two sends of this node's token revocations to the fleet. @default 5000 */
  revocationIntervalMs?: number;
  /** This node's HTTP address, for the fleet view. */
  url?: () => string | undefined;
  logger: Logger;
  /** Resolves once every commit made before the call is durable; the outbox is published only then. @default none */
  durable?: () => Promise<void>;
  /**
   * Carries traces across nodes: publish spans, the trace context in message headers, spans of the folds
   * of received messages (src/telemetry `Telemetry.replicationTracer`). @default none (tracing off)
   */
  tracer?: ReplicationTracer;
  /** The versions of each app this node serves, for the fleet view. @default none */
  versions?: () => AppVersionsSeen[];
  /**
   * Follow the fleet's rollouts (docs/replication.md, "Rolling out module versions to the fleet"): `apply`
   * verifies and deploys a record (./rollout-watcher.ts); `revision` is the KV revision applied before, and
   * `onApplied` persists the next. @default none: this node does not follow rollouts
   */
  rollouts?: Pick<RolloutWatcherOptions, 'apply' | 'onApplied' | 'revision'>;
}

/** How an applied event reached this node. */
export type AppliedVia = { kind: 'jetstream'; origin: string } | { kind: 'anti-entropy' };

const DUPLICATE_WINDOW_MS = 2 * 60_000;

export class Replicator {
  private readonly connection: FleetConnection;
  private readonly publisher: OutboxPublisher;
  private readonly consumer: EventConsumer;
  private readonly local: LocalReplica;
  private readonly fleet: FleetView;
  private jetstreamState: JetStreamState = 'starting';
  private readonly antiEntropy: AntiEntropyRounds;
  private stopped = false;
  private readonly rollouts: RolloutWatcher | undefined;
  /** The live connection, while a session runs: what `publishRollout` publishes on. */
  private nc: NatsConnection | undefined;
  private readonly listeners = new Set<(events: StoredEvent[], via: AppliedVia) => void>();

  constructor(private readonly options: ReplicatorOptions) {
    const { nodeId, store, sink, stream, logger } = options;
    this.fleet = new FleetView(nodeId);
    this.publisher = new OutboxPublisher({ store, nodeId, logger, tracer: options.tracer, durable: options.durable });
    this.consumer = new EventConsumer({
      nodeId,
      stream,
      partitions: options.regions,
      store,
      sink,
      logger,
      tracer: options.tracer,
      onApplied: (events, origins) => {
        if (this.listeners.size === 0) return;
        for (let i = 0; i < events.length; i++) this.emit([events[i]!], { kind: 'jetstream', origin: origins[i]! });
      },
    });
    this.local = new LocalReplica(store, sink, stream, (events) => {
      this.antiEntropy.stats.repairedIn += events.length;
      this.emit(events, { kind: 'anti-entropy' });
    });
    this.antiEntropy = new AntiEntropyRounds({ ...options, local: this.local, fleet: this.fleet, selfBusy: () => this.heartbeat().catching_up });
    this.rollouts = options.rollouts && new RolloutWatcher({ ...options.rollouts, logger });
    this.connection = new FleetConnection({
      servers: options.servers,
      auth: options.auth,
      name: nodeId,
      logger,
      session: (nc, signal) => this.session(nc, signal),
    });
  }

  start(): void {
    this.antiEntropy.start();
    this.connection.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.connection.stop();
    await this.antiEntropy.stop();
    this.publisher.flush();
  }

  /**
   * Local events were committed: publish them now. `traces[i]` is the request of `events[i]` (as the
   * write path was given it): a traced one is remembered for the publish span of its event.
   */
  notify(events?: readonly StoredEvent[], traces?: readonly unknown[]): void {
    const tracer = this.options.tracer;
    if (tracer && events && traces) rememberTraces(tracer, this.options.stream, events, traces);
    this.publisher.notify();
  }

  get status(): ConnectionStatus {
    return this.connection.status;
  }

  statuses(): AsyncIterableIterator<ConnectionStatus> {
    return this.connection.statuses();
  }

  /** Told of every event from elsewhere that was new here, once durable. Returns a function that stops it. */
  onApplied(listener: (events: StoredEvent[], via: AppliedVia) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Publishes a module version to the fleet (./rollout-channel.ts): every node that follows rollouts
   * verifies and deploys it. Throws when this node is not connected to NATS now.
   */
  async publishRollout(record: RolloutRecord, moduleBytes: Uint8Array, options?: PublishRolloutOptions): Promise<PublishedRollout> {
    if (!this.nc) throw new RolloutError('fleet_unavailable', 'this node is not connected to NATS now; retry when it is');
    return publishRollout(this.nc, record, moduleBytes, options);
  }

  /** Replication's state and totals now, typed: telemetry reads them, and `GET /v1/fleet` shows them. */
  stats(): ReplicationStats {
    const now = Date.now();
    const p = this.publisher.stats;
    const c = this.consumer.stats;
    const ae = this.antiEntropy.stats;
    return {
      nodeId: this.options.nodeId,
      at: now,
      connection: this.connection.status,
      jetstream: this.jetstreamState,
      self: fleetMember(this.heartbeat(now), now),
      peers: this.fleet.known().map((n) => fleetMember(n, n.last_contact)),
      publisher: { published: p.published, duplicates: p.duplicates, failures: p.failures, lastError: p.lastError },
      consumer: { received: c.received, applied: c.applied, duplicates: c.duplicates, conflicts: c.conflicts, own: c.own, undecodable: c.undecodable, pending: c.pending },
      antiEntropy: {
        digestsReady: this.antiEntropy.digestsReady,
        rounds: ae.rounds,
        lastRoundAt: ae.lastRoundAt,
        repairedIn: ae.repairedIn,
        repairedOut: ae.repairedOut,
        conflicts: ae.conflicts,
        lastError: ae.lastError,
      },
    };
  }

  /** `GET /v1/fleet`: {@link stats} as JSON (src/replication/fleet.ts `renderFleet`). */
  fleetInfo(): FleetInfo {
    return renderFleet(this.stats());
  }

  private emit(events: StoredEvent[], via: AppliedVia): void {
    for (const l of this.listeners) l(events, via);
  }

  /** True while JetStream takes this node's outbox (then its entries need no anti-entropy). */
  private jetstreamHealthy(now: number): boolean {
    return this.jetstreamState === 'ok' && now - (this.publisher.stats.lastFailureAt ?? 0) > 10_000;
  }

  private heartbeat(now = Date.now()): Heartbeat {
    const depth = this.publisher.depth();
    const c = this.consumer.stats;
    const lag = c.pending > 0 && c.lastStoredAt !== undefined ? now - c.lastStoredAt : c.lastLagMs ?? null;
    return {
      node_id: this.options.nodeId,
      url: this.options.url?.(),
      time: now,
      outbox_depth: depth,
      replication_lag_ms: lag,
      pending: c.pending,
      catching_up: this.jetstreamState === 'starting' || this.consumer.catchingUp || (depth > 0 && this.jetstreamHealthy(now)),
      regions: [...this.options.regions],
      digests_ready: this.antiEntropy.digestsReady,
      versions: this.options.versions?.() ?? [],
    };
  }

  // --- a session: everything that runs while connected -------------------------------------------------

  private async session(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    const heartbeatMs = this.options.heartbeatIntervalMs ?? 2_000;
    const heartbeats = nc.subscribe(HEARTBEAT_SUBJECT, {
      callback: (error, msg) => {
        if (error) return;
        const hb = parseHeartbeat(msg.data);
        if (hb) this.fleet.record(hb);
      },
    });
    const responder = serveAntiEntropy(nc, this.options.nodeId, this.local, () => this.antiEntropy.digestsReady, logger);
    const beat = (): void => {
      try {
        nc.publish(HEARTBEAT_SUBJECT, JSON.stringify(this.heartbeat()));
      } catch {
        // The connection is closing; the session ends with it.
      }
    };
    beat();
    const beating = setInterval(beat, heartbeatMs);
    const stopGossip = gossipRevocations(nc, this.options.store, logger, this.options.revocationIntervalMs);
    const following = this.rollouts?.run(nc, signal);
    this.nc = nc;
    const jetstreamLoop = this.jetstreamLoop(nc, signal);
    const antiEntropyLoop = this.antiEntropy.run(nc, signal);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    this.nc = undefined;
    clearInterval(beating);
    stopGossip();
    // The consumers stop first, so the server drops their pull requests (a pull request left behind by a
    // closed connection can take messages that then wait for their ack timeout to be redelivered). Then
    // closing makes anti-entropy requests in flight fail at once instead of at their timeouts.
    await Promise.race([Promise.allSettled([jetstreamLoop]), sleep(2_000)]);
    await nc.close().catch(() => undefined);
    await Promise.allSettled([jetstreamLoop, antiEntropyLoop, following]);
    this.jetstreamState = 'unavailable';
    heartbeats.unsubscribe();
    responder.unsubscribe();
  }

  /** Sets up the stream and the consumers, then publishes and consumes; starts over after a failure. */
  private async jetstreamLoop(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    let attempt = 0;
    this.jetstreamState = 'starting';
    while (!signal.aborted) {
      const inner = new AbortController();
      const onAbort = (): void => inner.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5_000 });
        await this.ensureStream(jsm);
        const names = await this.consumer.ensure(jsm);
        const js = jetstream(nc, { timeout: 5_000 });
        this.jetstreamState = 'ok';
        attempt = 0;
        const publishing = this.publisher.run(js, inner.signal);
        try {
          await this.consumer.run(js, names, inner.signal);
        } finally {
          inner.abort();
          await publishing;
        }
      } catch (error) {
        inner.abort();
        if (signal.aborted) break;
        this.jetstreamState = 'unavailable';
        const retryInMs = backoffDelay(RECONNECT_BACKOFF, attempt++);
        if (attempt === 1 || attempt % 20 === 0) {
          logger.warn('JetStream unavailable; anti-entropy still runs over core NATS', { error, retryInMs });
        }
        await sleep(retryInMs, signal);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    try {
      await jsm.streams.info(JETSTREAM_STREAM);
      return;
    } catch {
      // Not there (or not reachable: adding it tells which).
    }
    try {
      await jsm.streams.add({
        name: JETSTREAM_STREAM,
        subjects: [`${EVENTS_PREFIX}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_age: this.options.gracePeriodMs * 1_000_000,
        duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
        num_replicas: 1,
      });
      this.options.logger.info('created the JetStream stream', { stream: JETSTREAM_STREAM });
    } catch (error) {
      // Another node may have created it at the same moment.
      await jsm.streams.info(JETSTREAM_STREAM).catch(() => {
        throw error;
      });
    }
  }
}
