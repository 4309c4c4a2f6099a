/** Replication's retry delays, as data; the arithmetic and the sleep are src/resilience's. */
import type { BackoffPolicy } from '../resilience/index.js';

/** Reconnecting to NATS and retrying JetStream setup. */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 5_000, multiplier: 2, jitter: 0.5 };
/** Retrying a publish that failed while connected (JetStream busy or restarting). */
export const PUBLISH_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, multiplier: 2, jitter: 0.5 };
