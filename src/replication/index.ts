/**
 * Replication across edge nodes over NATS JetStream, with anti-entropy: see docs/replication.md. The node
 * loads this folder only when `--nats` is set, so a node that runs alone runs no NATS code.
 */
export {
  Replicator,
  type ReplicatorOptions,
  type ReplicationStore,
  type FleetInfo,
  type AppliedVia,
  type JetStreamState,
  type AntiEntropyStats,
} from './replicator.js';
export type { ConnectionStatus } from './connection.js';
export { reconcile, compareEvents, LocalReplica, type Replica, type ReconcileOptions, type ReconcileReport, type ApplyResult, type DigestQuery, type EventsQuery, type EventSink } from './anti-entropy.js';
export { differingBuckets, digestEvents, digestWindow, type DigestWindow } from './digest.js';
export { backoffDelay, RECONNECT_BACKOFF, PUBLISH_BACKOFF, type Backoff } from './backoff.js';
export { JETSTREAM_STREAM, EVENTS_PREFIX, HEARTBEAT_SUBJECT, ORIGIN_HEADER, eventSubject, messageId, consumerName, token, untoken } from './subjects.js';
export { encodeEvent, decodeEvent } from './codec.js';
export { rememberTraces, type ReplicationTracer, type MessageSpan, type TraceHeaders } from './tracing.js';
