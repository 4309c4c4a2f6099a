/**
 * Replication metrics are read, not pushed: replication keeps its own totals and gauges, and telemetry
 * reads its typed stats (src/replication `Replicator.stats()`) at each collection (a Prometheus scrape,
 * an OTLP export). Nothing is recorded on replication's hot path.
 */
import type { Meter } from '@opentelemetry/api';
import type { Logger } from './logger.js';

/**
 * What telemetry reads of src/replication's `ReplicationStats` (structurally: telemetry does not import
 * replication, which the node loads only with `--nats`). Totals are cumulative since the node started.
 */
export interface ReplicationStatsLike {
  /** When the stats were read (Unix ms): contact ages are measured from it. */
  at: number;
  connection: { state: string };
  /** This node: its outbox (local events not yet published) and how far its consumer is behind, in ms. */
  self: { outboxDepth: number; lagMs: number | undefined };
  /** The other nodes as last heard of (bounded by the fleet's size). */
  peers: ReadonlyArray<{ nodeId: string; outboxDepth: number; lagMs: number | undefined; lastContactAt: number }>;
  publisher: { published: number; failures: number };
  /** Events from other nodes: folded in, already here, or held here with another value (the first stays). */
  consumer: { applied: number; duplicates: number; conflicts: number };
  /** Repairs: `in`, this node lacked the events; `out`, a peer did. */
  antiEntropy: { rounds: number; repairedIn: number; repairedOut: number; conflicts: number };
}

/**
 * Replication's metrics, read from `source` at each collection (once for all of them). `source`
 * answers undefined while the node runs alone. See docs/observability.md for the names.
 */
export function observeReplication(meter: Meter, logger: Logger, source: () => ReplicationStatsLike | undefined): void {
  const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(name, { description, unit });
  const counter = (name: string, description: string, unit: string) => meter.createObservableCounter(name, { description, unit });
  const connected = gauge('edgeagg.replication.connected', '1 while connected to NATS, 0 otherwise.', '1');
  const outbox = gauge('edgeagg.replication.outbox.depth', 'Local events committed but not yet published.', '{event}');
  const lag = gauge('edgeagg.replication.lag', "How far this node's consumer is behind the fleet's events.", 's');
  const published = counter('edgeagg.replication.published', 'Events this node published.', '{event}');
  const publishFailures = counter('edgeagg.replication.publish.failures', 'Failed publish attempts (retried).', '{attempt}');
  const received = counter('edgeagg.replication.received', 'Events received from other nodes, by outcome (applied, duplicate, conflict).', '{event}');
  const rounds = counter('edgeagg.replication.anti_entropy.rounds', 'Anti-entropy rounds run.', '{round}');
  const repairs = counter('edgeagg.replication.anti_entropy.repairs', 'Events repaired by anti-entropy: direction in (this node lacked them) or out (a peer did).', '{event}');
  const peerLag = gauge('edgeagg.replication.peer.lag', 'Replication lag other nodes report in their heartbeats.', 's');
  const peerOutbox = gauge('edgeagg.replication.peer.outbox.depth', 'Outbox depth other nodes report in their heartbeats.', '{event}');
  const peerContact = gauge('edgeagg.replication.peer.last_contact_age', 'Time since the last heartbeat of each other node.', 's');
  meter.addBatchObservableCallback(
    (r) => {
      let s: ReplicationStatsLike | undefined;
      try {
        s = source();
      } catch (error) {
        logger.warn('replication metrics unavailable', { error });
      }
      if (!s) return;
      r.observe(connected, s.connection.state === 'connected' ? 1 : 0);
      r.observe(outbox, s.self.outboxDepth);
      if (s.self.lagMs !== undefined) r.observe(lag, s.self.lagMs / 1000);
      r.observe(published, s.publisher.published);
      r.observe(publishFailures, s.publisher.failures);
      r.observe(received, s.consumer.applied, { outcome: 'applied' });
      r.observe(received, s.consumer.duplicates, { outcome: 'duplicate' });
      r.observe(received, s.consumer.conflicts + s.antiEntropy.conflicts, { outcome: 'conflict' });
      r.observe(rounds, s.antiEntropy.rounds);
      r.observe(repairs, s.antiEntropy.repairedIn, { direction: 'in' });
      r.observe(repairs, s.antiEntropy.repairedOut, { direction: 'out' });
      for (const p of s.peers) {
        if (p.lagMs !== undefined) r.observe(peerLag, p.lagMs / 1000, { peer: p.nodeId });
        r.observe(peerOutbox, p.outboxDepth, { peer: p.nodeId });
        r.observe(peerContact, (s.at - p.lastContactAt) / 1000, { peer: p.nodeId });
      }
    },
    [connected, outbox, lag, published, publishFailures, received, rounds, repairs, peerLag, peerOutbox, peerContact],
  );
}
