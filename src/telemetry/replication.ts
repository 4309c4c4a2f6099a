/**
 * Replication metrics are read, not pushed: replication keeps its own totals and gauges, and
 * {@link ReplicationSnapshot} is what telemetry asks for at each collection (a Prometheus scrape, an
 * OTLP export). Nothing is recorded on replication's hot path.
 */

/** What replication reports at each collection. Totals are cumulative since the node started. */
export interface ReplicationSnapshot {
  /** Connected to NATS. */
  connected: boolean;
  /** Local events committed but not yet published (the outbox). */
  outboxDepth: number;
  /** How far this node's consumer is behind the fleet's events, in ms; undefined when unknown. */
  lagMs: number | undefined;
  /** Events this node published. */
  published: number;
  /** Failed publish attempts (retried). */
  publishFailures: number;
  /** Events from other nodes folded in here. */
  applied: number;
  /** Events received that this node already had. */
  duplicates: number;
  /** Events received whose identity this node holds with another value (the first one stays). */
  conflicts: number;
  /** Anti-entropy rounds run. */
  antiEntropyRounds: number;
  /** Events repaired by anti-entropy: `in`, this node lacked them; `out`, a peer did. */
  repairsIn: number;
  repairsOut: number;
  /** The other nodes as last heard of (bounded by the fleet's size). */
  peers: Array<{ nodeId: string; outboxDepth: number; lagMs: number | undefined; lastContactAgeMs: number }>;
}

/** The parts of replication's `GET /v1/fleet` answer a snapshot is made of (src/replication FleetInfo). */
export interface FleetInfoLike {
  nats?: { state: string };
  nodes: ReadonlyArray<{ node_id: string; self: boolean; outbox_depth: number; replication_lag_ms: number | null; last_contact_age_ms: number }>;
  publisher?: { published: number; failures: number };
  consumer?: { applied: number; duplicates: number; conflicts: number };
  anti_entropy?: { rounds: number; repaired_in: number; repaired_out: number; conflicts: number };
}

/** A snapshot from replication's fleet view (what the composition root feeds telemetry with). */
export function snapshotFromFleetInfo(info: FleetInfoLike): ReplicationSnapshot {
  const self = info.nodes.find((n) => n.self);
  return {
    connected: info.nats?.state === 'connected',
    outboxDepth: self?.outbox_depth ?? 0,
    lagMs: self?.replication_lag_ms ?? undefined,
    published: info.publisher?.published ?? 0,
    publishFailures: info.publisher?.failures ?? 0,
    applied: info.consumer?.applied ?? 0,
    duplicates: info.consumer?.duplicates ?? 0,
    conflicts: (info.consumer?.conflicts ?? 0) + (info.anti_entropy?.conflicts ?? 0),
    antiEntropyRounds: info.anti_entropy?.rounds ?? 0,
    repairsIn: info.anti_entropy?.repaired_in ?? 0,
    repairsOut: info.anti_entropy?.repaired_out ?? 0,
    peers: info.nodes
      .filter((n) => !n.self)
      .map((n) => ({ nodeId: n.node_id, outboxDepth: n.outbox_depth, lagMs: n.replication_lag_ms ?? undefined, lastContactAgeMs: n.last_contact_age_ms })),
  };
}
