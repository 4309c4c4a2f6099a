/**
 * Replication across edge nodes over NATS JetStream, with anti-entropy: see docs/replication.md. This face
 * loads no NATS code: `createReplicator` loads the NATS client, so a node that runs alone (no `--nats`)
 * runs none of it, and still shows its fleet view (`standaloneFleet`).
 */
import type { Replicator, ReplicatorOptions } from './replicator.js';
export { type Replicator, type ReplicatorOptions, type ReplicationStore, type AppliedVia } from './replicator.js';
export type { AntiEntropyStats } from './anti-entropy-rounds.js';
export {
  renderFleet,
  standaloneFleet,
  type FleetInfo,
  type FleetMember,
  type FleetNodeInfo,
  type AppVersionsSeen,
  type JetStreamState,
  type ReplicationStats,
  type StandaloneFleetInfo,
} from './fleet.js';

/** A replicator for `options`, not started; loads the NATS client (once) on the first call. */
export async function createReplicator(options: ReplicatorOptions): Promise<Replicator> {
  const { Replicator } = await import('./replicator.js');
  return new Replicator(options);
}
export type { ConnectionStatus } from './connection.js';
export type { NatsAuthOptions } from './nats-auth.js';
export { reconcile, compareEvents, LocalReplica, type Replica, type ReconcileOptions, type ReconcileReport, type ApplyResult, type DigestQuery, type EventsQuery, type EventSink } from './anti-entropy.js';
export { differingBuckets, digestEvents, digestWindow, type DigestWindow } from './digest.js';
export { RECONNECT_BACKOFF, PUBLISH_BACKOFF } from './backoff.js';
export { JETSTREAM_STREAM, EVENTS_PREFIX, HEARTBEAT_SUBJECT, ORIGIN_HEADER, eventSubject, messageId, consumerName, token, untoken } from './subjects.js';
export { encodeEvent, decodeEvent } from './codec.js';
export { rememberTraces, type ReplicationTracer, type MessageSpan, type TraceHeaders } from './tracing.js';

// Fleet rollout channel (issue 15): records and errors load no NATS code; the functions below load it on first use.
import type { NatsConnection } from '@nats-io/transport-node';
import type { RolloutRecord } from './rollout-record.js';
import type { PublishRolloutOptions, PublishedRollout } from './rollout-channel.js';
import type { RolloutWatcher, RolloutWatcherOptions } from './rollout-watcher.js';
export { ROLLOUTS_BUCKET, MODULES_BUCKET, parseRolloutRecord, type RolloutRecord } from './rollout-record.js';
export { RolloutError, InvalidRolloutRecordError, RolloutDowngradeError, RolloutConflictError, ModuleMissingError, ModuleDigestError } from './rollout-errors.js';
export type { PublishRolloutOptions, PublishedRollout, RolloutWatcher, RolloutWatcherOptions };

/** Publishes a module version to the fleet (./rollout-channel.ts `publishRollout`); loads the NATS client on first use. */
export async function publishRollout(nc: NatsConnection, record: RolloutRecord, moduleBytes: Uint8Array, options?: PublishRolloutOptions): Promise<PublishedRollout> {
  return (await import('./rollout-channel.js')).publishRollout(nc, record, moduleBytes, options);
}

/** A watcher of the fleet's rollout records, not started (./rollout-watcher.ts); loads the NATS client on first use. */
export async function createRolloutWatcher(options: RolloutWatcherOptions): Promise<RolloutWatcher> {
  const { RolloutWatcher } = await import('./rollout-watcher.js');
  return new RolloutWatcher(options);
}
