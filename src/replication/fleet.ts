/**
 * What a node knows of the fleet: each node publishes a heartbeat every few seconds on core NATS (not
 * JetStream: a heartbeat is only worth its freshness) with its outbox depth and how far behind its
 * consumer is; every node keeps the last heartbeat of each, which `GET /v1/fleet` shows and anti-entropy
 * uses to pick its peers.
 *
 * Also replication's typed stats ({@link ReplicationStats}: what telemetry reads) and the one place the
 * `GET /v1/fleet` JSON is made from them ({@link renderFleet}, and {@link standaloneFleet} for a node
 * without NATS). This file loads no NATS code: the node may import it without `--nats`.
 */
import type { ConnectionStatus } from './connection.js';

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
  /** The versions of each app it serves (src/deploy). */
  versions: AppVersionsSeen[];
}

/** One app's versions on a node, as the fleet sees them. */
export interface AppVersionsSeen {
  app: string;
  stable: string | null;
  canary: string | null;
  canary_percent: number;
  building: string | null;
}

function parseVersions(value: unknown): AppVersionsSeen[] {
  if (!Array.isArray(value)) return [];
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return value
    .filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object' && typeof (v as { app?: unknown }).app === 'string')
    .map((v) => ({ app: v.app as string, stable: text(v.stable), canary: text(v.canary), canary_percent: typeof v.canary_percent === 'number' ? v.canary_percent : 0, building: text(v.building) }));
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
      versions: parseVersions(v.versions),
    };
  } catch {
    return undefined;
  }
}

// --- the fleet view: typed stats, and the `GET /v1/fleet` JSON made from them ---------------------------

/** Where JetStream is for this node. */
export type JetStreamState = 'starting' | 'ok' | 'unavailable';

/** A node as this node knows it: itself now, or another node as of its last heartbeat. */
export interface FleetMember {
  nodeId: string;
  /** Its HTTP address, when known. */
  url: string | undefined;
  /** When this node last heard from it (Unix ms); for this node itself, when the stats were read. */
  lastContactAt: number;
  /** Its local events not yet acknowledged by JetStream. */
  outboxDepth: number;
  /** From JetStream storing the last event it folded in to that fold being durable, in ms; undefined: unknown. */
  lagMs: number | undefined;
  /** Messages JetStream still holds for its consumers. */
  pending: number;
  /** Behind (consumer backlog, or an outbox being drained): left out of anti-entropy. */
  catchingUp: boolean;
  /** The partitions (regions) it follows; empty: all. */
  regions: readonly string[];
  /** The versions of each app it serves. */
  versions: readonly AppVersionsSeen[];
}

/** Replication's state and totals (cumulative since the node started), read in one go: `Replicator.stats()`. */
export interface ReplicationStats {
  nodeId: string;
  /** When they were read (Unix ms): contact ages are measured from it. */
  at: number;
  connection: ConnectionStatus;
  jetstream: JetStreamState;
  self: FleetMember;
  /** Every other node heard from since this node started, by id. */
  peers: FleetMember[];
  publisher: { published: number; duplicates: number; failures: number; lastError: string | undefined };
  /** Events received: `applied` (new here), `duplicates`, `conflicts` (held here with another value), `own` (echoes of this node's). */
  consumer: { received: number; applied: number; duplicates: number; conflicts: number; own: number; undecodable: number; pending: number };
  /** `repairedIn`: events this node lacked and got through anti-entropy; `repairedOut`: events peers lacked. */
  antiEntropy: { digestsReady: boolean; rounds: number; lastRoundAt: number | undefined; repairedIn: number; repairedOut: number; conflicts: number; lastError: string | undefined };
}

/** One node in `GET /v1/fleet` (docs/replication.md). */
export interface FleetNodeInfo {
  node_id: string;
  self: boolean;
  url: string | null;
  last_contact: string;
  last_contact_age_ms: number;
  outbox_depth: number;
  replication_lag_ms: number | null;
  pending: number;
  catching_up: boolean;
  regions: string[] | 'all';
  versions: AppVersionsSeen[];
}

/** `GET /v1/fleet` with replication over NATS. */
export interface FleetInfo {
  node_id: string;
  replication: 'nats';
  nats: ConnectionStatus & { jetstream: JetStreamState };
  nodes: FleetNodeInfo[];
  publisher: { published: number; duplicates: number; failures: number; last_error: string | null };
  consumer: { received: number; applied: number; duplicates: number; conflicts: number; own: number; undecodable: number; pending: number };
  anti_entropy: {
    digests_ready: boolean;
    rounds: number;
    last_round_at: string | null;
    repaired_in: number;
    repaired_out: number;
    conflicts: number;
    last_error: string | null;
  };
}

/** `GET /v1/fleet` on a node without NATS: it runs alone, so its fleet is itself. */
export interface StandaloneFleetInfo {
  node_id: string;
  replication: 'off';
  nodes: [FleetNodeInfo];
}

/** A heartbeat's node as a {@link FleetMember}, last heard from at `lastContactAt`. */
export function fleetMember(heartbeat: Heartbeat, lastContactAt: number): FleetMember {
  return {
    nodeId: heartbeat.node_id,
    url: heartbeat.url,
    lastContactAt,
    outboxDepth: heartbeat.outbox_depth,
    lagMs: heartbeat.replication_lag_ms ?? undefined,
    pending: heartbeat.pending,
    catchingUp: heartbeat.catching_up,
    regions: heartbeat.regions,
    versions: heartbeat.versions,
  };
}

/** `GET /v1/fleet`: the JSON of replication's stats. */
export function renderFleet(stats: ReplicationStats): FleetInfo {
  const { publisher: p, consumer: c, antiEntropy: ae } = stats;
  return {
    node_id: stats.nodeId,
    replication: 'nats',
    nats: { ...stats.connection, jetstream: stats.jetstream },
    nodes: [nodeInfo(stats.self, true, stats.at), ...stats.peers.map((n) => nodeInfo(n, false, stats.at))],
    publisher: { published: p.published, duplicates: p.duplicates, failures: p.failures, last_error: p.lastError ?? null },
    consumer: { received: c.received, applied: c.applied, duplicates: c.duplicates, conflicts: c.conflicts, own: c.own, undecodable: c.undecodable, pending: c.pending },
    anti_entropy: {
      digests_ready: ae.digestsReady,
      rounds: ae.rounds,
      last_round_at: ae.lastRoundAt === undefined ? null : new Date(ae.lastRoundAt).toISOString(),
      repaired_in: ae.repairedIn,
      repaired_out: ae.repairedOut,
      conflicts: ae.conflicts,
      last_error: ae.lastError ?? null,
    },
  };
}

/** `GET /v1/fleet` on a node that runs alone (no `--nats`): itself, with nothing to replicate. */
export function standaloneFleet(nodeId: string, url: string | undefined, versions: readonly AppVersionsSeen[] = [], now = Date.now()): StandaloneFleetInfo {
  const self: FleetMember = { nodeId, url, lastContactAt: now, outboxDepth: 0, lagMs: undefined, pending: 0, catchingUp: false, regions: [], versions };
  return { node_id: nodeId, replication: 'off', nodes: [nodeInfo(self, true, now)] };
}

function nodeInfo(n: FleetMember, self: boolean, now: number): FleetNodeInfo {
  return {
    node_id: n.nodeId,
    self,
    url: n.url ?? null,
    last_contact: new Date(n.lastContactAt).toISOString(),
    last_contact_age_ms: now - n.lastContactAt,
    outbox_depth: n.outboxDepth,
    replication_lag_ms: n.lagMs ?? null,
    pending: n.pending,
    catching_up: n.catchingUp,
    regions: n.regions.length === 0 ? 'all' : [...n.regions],
    versions: [...n.versions],
  };
}
