/**
 * What a node knows of the fleet: each node publishes a heartbeat every few seconds on core NATS (not
 * JetStream: a heartbeat is only worth its freshness) with its outbox depth and how far behind its
 * consumer is; every node keeps the last heartbeat of each, which `GET /v1/fleet` shows and anti-entropy
 * uses to pick its peers.
 */

export interface Heartbeat {
  node_id: string;
  /** The node's HTTP address, when it knows it. */
  url: string | undefined;
  /** Unix time in milliseconds at the sender. */
  time: number;
  /** Local events not yet acknowledged by JetStream. */
  outbox_depth: number;
  /** Milliseconds from JetStream storing the last event this node folded in to the fold being durable. */
  replication_lag_ms: number | null;
  /** Messages JetStream still holds for this node's consumers. */
  pending: number;
  /** True while the node is behind (consumer backlog, or an outbox being drained): it is left out of anti-entropy. */
  catching_up: boolean;
  /** The partitions (regions) it follows; empty: all. */
  regions: string[];
  /** Whether anti-entropy may ask it for digests now (it has rebuilt them). */
  digests_ready: boolean;
}

export interface KnownNode extends Heartbeat {
  /** When this node last heard from it (Unix ms). */
  last_contact: number;
}

export class FleetView {
  private readonly nodes = new Map<string, KnownNode>();

  constructor(private readonly selfId: string) {}

  record(heartbeat: Heartbeat, receivedAt = Date.now()): void {
    if (heartbeat.node_id === this.selfId) return;
    this.nodes.set(heartbeat.node_id, { ...heartbeat, last_contact: receivedAt });
  }

  /** Every node heard from since this node started, by id. */
  known(): KnownNode[] {
    return [...this.nodes.values()].sort((a, b) => (a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0));
  }

  /** Nodes heard from within `maxAgeMs`. */
  live(maxAgeMs: number, now = Date.now()): KnownNode[] {
    return this.known().filter((n) => now - n.last_contact <= maxAgeMs);
  }
}

/** Parses a heartbeat; undefined for anything that is not one. */
export function parseHeartbeat(data: Uint8Array): Heartbeat | undefined {
  try {
    const v = JSON.parse(Buffer.from(data).toString('utf8')) as Partial<Heartbeat>;
    if (typeof v.node_id !== 'string' || v.node_id === '' || typeof v.time !== 'number') return undefined;
    return {
      node_id: v.node_id,
      url: typeof v.url === 'string' ? v.url : undefined,
      time: v.time,
      outbox_depth: typeof v.outbox_depth === 'number' ? v.outbox_depth : 0,
      replication_lag_ms: typeof v.replication_lag_ms === 'number' ? v.replication_lag_ms : null,
      pending: typeof v.pending === 'number' ? v.pending : 0,
      catching_up: v.catching_up === true,
      regions: Array.isArray(v.regions) ? v.regions.filter((r): r is string => typeof r === 'string') : [],
      digests_ready: v.digests_ready === true,
    };
  } catch {
    return undefined;
  }
}
