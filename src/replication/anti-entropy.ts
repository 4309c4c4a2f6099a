/**
 * Anti-entropy: two replicas compare digests of the events they hold and send each other what the other
 * lacks. JetStream is the fast path; this is what makes the fleet converge when JetStream lost, expired or
 * never carried an event (its dedup window and its retention are finite, and a server may lose
 * acknowledged messages on power loss).
 *
 * A round, run by one node against one peer over the grace period's window:
 *  1. both sides' digests per (partition, hour); the pairs that differ (or exist on one side only)
 *  2. for each, both sides' digests per minute of that hour; the minutes that differ
 *  3. for each such minute, both sides' events of it: the events one side lacks are applied to it, through
 *     the same dedup and fold as any other event (so a repeated or concurrent repair counts once).
 * Work per round is bounded (`maxMinutes`); what is left is found again by the next round.
 *
 * The algorithm runs against the {@link Replica} interface: over NATS for a peer, directly for the local
 * store, and in memory in the simulation tests.
 */
import type { StoredEvent } from '../runtime/index.js';
import type { EventCursor, EventDigest } from '../store/index.js';
import type { EventPageBody } from './codec.js';
import { DIGEST_BUCKET_MS, MINUTES_PER_HOUR, differingBuckets, type DigestWindow } from './digest.js';

export interface DigestQuery {
  stream: string;
  level: 'minute' | 'hour';
  fromMinute: number;
  toMinute: number;
  /** @default every partition */
  partition?: string;
}

export interface EventsQuery {
  stream: string;
  partition: string;
  fromMs: number;
  /** Exclusive. */
  toMs: number;
  after?: EventCursor;
  limit: number;
}

export interface ApplyResult {
  new: number;
  duplicate: number;
  conflict: number;
}

/** What one side of a round offers. */
export interface Replica {
  digests(query: DigestQuery): Promise<EventDigest[]>;
  events(query: EventsQuery): Promise<EventPageBody>;
  /** Adds events through the dedup and the fold; resolves once they are durable. */
  apply(stream: string, events: StoredEvent[]): Promise<ApplyResult>;
}

export interface ReconcileOptions {
  stream: string;
  window: DigestWindow;
  /** Whether the local side takes the events of a partition it lacks. @default every partition */
  pull?: (partition: string) => boolean;
  /** Whether the remote side is sent the events of a partition it lacks. @default every partition */
  push?: (partition: string) => boolean;
  /** Most minutes repaired in one round. @default 1000 */
  maxMinutes?: number;
  /** Events per page read or applied. @default 2000 */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ReconcileReport {
  /** (partition, hour) pairs whose digests differed. */
  hours: number;
  /** (partition, minute) pairs whose digests differed and were repaired. */
  minutes: number;
  /** Events taken from the remote side (new: repairs of the local side). */
  pulled: ApplyResult;
  /** Events sent to the remote side (new: repairs of the remote side). */
  pushed: ApplyResult;
  /** Identities held by both sides with different contents: neither is replaced (the first one stays). */
  conflicts: number;
  /** False when `maxMinutes` stopped the round before every differing minute was repaired. */
  complete: boolean;
}

const DEFAULT_MAX_MINUTES = 1000;
const DEFAULT_PAGE_SIZE = 2000;

export function emptyApplyResult(): ApplyResult {
  return { new: 0, duplicate: 0, conflict: 0 };
}

function addResult(into: ApplyResult, r: ApplyResult): void {
  into.new += r.new;
  into.duplicate += r.duplicate;
  into.conflict += r.conflict;
}

/** One anti-entropy round of `local` against `remote`. Idempotent: a second round right after finds nothing. */
export async function reconcile(local: Replica, remote: Replica, options: ReconcileOptions): Promise<ReconcileReport> {
  const { stream, window } = options;
  const pull = options.pull ?? (() => true);
  const push = options.push ?? (() => true);
  const maxMinutes = options.maxMinutes ?? DEFAULT_MAX_MINUTES;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const report: ReconcileReport = { hours: 0, minutes: 0, pulled: emptyApplyResult(), pushed: emptyApplyResult(), conflicts: 0, complete: true };
  const wanted = (partition: string): boolean => pull(partition) || push(partition);

  const hourQuery: DigestQuery = { stream, level: 'hour', fromMinute: window.fromMinute, toMinute: window.toMinute };
  const [myHours, theirHours] = await Promise.all([local.digests(hourQuery), remote.digests(hourQuery)]);
  const hours = differingBuckets(myHours, theirHours).filter((h) => wanted(h.partition));
  report.hours = hours.length;

  for (const hour of hours) {
    if (options.signal?.aborted) return { ...report, complete: false };
    const minuteQuery: DigestQuery = {
      stream,
      level: 'minute',
      partition: hour.partition,
      fromMinute: Math.max(window.fromMinute, hour.bucket * MINUTES_PER_HOUR),
      toMinute: Math.min(window.toMinute, (hour.bucket + 1) * MINUTES_PER_HOUR),
    };
    const [myMinutes, theirMinutes] = await Promise.all([local.digests(minuteQuery), remote.digests(minuteQuery)]);
    for (const minute of differingBuckets(myMinutes, theirMinutes)) {
      if (report.minutes >= maxMinutes || options.signal?.aborted) return { ...report, complete: false };
      report.minutes++;
      const query = { stream, partition: minute.partition, fromMs: minute.bucket * DIGEST_BUCKET_MS, toMs: (minute.bucket + 1) * DIGEST_BUCKET_MS };
      const [mine, theirs] = await Promise.all([readAll(local, query, pageSize), readAll(remote, query, pageSize)]);
      const { onlyMine, onlyTheirs, conflicts } = compareEvents(mine, theirs);
      report.conflicts += conflicts;
      if (pull(minute.partition)) {
        for (let i = 0; i < onlyTheirs.length; i += pageSize) addResult(report.pulled, await local.apply(stream, onlyTheirs.slice(i, i + pageSize)));
      }
      if (push(minute.partition)) {
        for (let i = 0; i < onlyMine.length; i += pageSize) addResult(report.pushed, await remote.apply(stream, onlyMine.slice(i, i + pageSize)));
      }
    }
  }
  return report;
}

async function readAll(replica: Replica, query: Omit<EventsQuery, 'limit' | 'after'>, limit: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after: EventCursor | undefined;
  // A page ends at `next`; a replica may return fewer than `limit` events only on its last page.
  for (;;) {
    const page = await replica.events({ ...query, after, limit });
    events.push(...page.events);
    if (page.next === undefined) return events;
    after = page.next;
  }
}

function identity(e: StoredEvent): string {
  return `${e.timeMs}\n${e.source}`;
}

function sameContent(a: StoredEvent, b: StoredEvent): boolean {
  return a.partition === b.partition && Buffer.compare(a.payload, b.payload) === 0;
}

/** Splits two event sets into what only one side holds, and counts identities whose contents differ. */
export function compareEvents(mine: readonly StoredEvent[], theirs: readonly StoredEvent[]): { onlyMine: StoredEvent[]; onlyTheirs: StoredEvent[]; conflicts: number } {
  const byId = new Map<string, StoredEvent>();
  for (const e of theirs) byId.set(identity(e), e);
  const onlyMine: StoredEvent[] = [];
  let conflicts = 0;
  for (const e of mine) {
    const id = identity(e);
    const other = byId.get(id);
    if (other === undefined) onlyMine.push(e);
    else {
      if (!sameContent(e, other)) conflicts++;
      byId.delete(id);
    }
  }
  return { onlyMine, onlyTheirs: [...byId.values()], conflicts };
}

/** The store methods a {@link LocalReplica} reads and writes (src/store SqliteStore). */
export interface ReplicaStore {
  eventDigests(stream: string, query: { level: 'minute' | 'hour'; fromMinute: number; toMinute: number; partition?: string }): EventDigest[];
  readEventsInRange(stream: string, options: { fromMs: number; toMs: number; partition?: string; after?: EventCursor; limit?: number }): EventPageBody;
  appendReplicatedEvent(stream: string, event: StoredEvent): 'new' | 'duplicate' | 'conflict';
}

/** Folds events from elsewhere (src/ingest IngestPipeline.submitEvents). */
export interface EventSink {
  submitEvents(events: readonly StoredEvent[], append: (event: StoredEvent) => 'new' | 'duplicate' | 'conflict'): Promise<{ outcomes: Array<'new' | 'duplicate' | 'conflict'> }>;
}

export class UnknownStreamError extends Error {
  override name = 'UnknownStreamError';
}

/** This node's side of a round: its store, and its write path for what it is sent. */
export class LocalReplica implements Replica {
  constructor(
    private readonly store: ReplicaStore,
    private readonly sink: EventSink,
    /** The one stream this node folds (its aggregator module's name). */
    private readonly stream: string,
    /** Told of every event the fold found new. */
    private readonly onApplied?: (events: StoredEvent[]) => void,
  ) {}

  async digests(query: DigestQuery): Promise<EventDigest[]> {
    return this.store.eventDigests(query.stream, query);
  }

  async events(query: EventsQuery): Promise<EventPageBody> {
    return this.store.readEventsInRange(query.stream, query);
  }

  async apply(stream: string, events: StoredEvent[]): Promise<ApplyResult> {
    if (stream !== this.stream) throw new UnknownStreamError(`this node folds stream "${this.stream}", not "${stream}"`);
    const result = emptyApplyResult();
    if (events.length === 0) return result;
    const { outcomes } = await this.sink.submitEvents(events, (e) => this.store.appendReplicatedEvent(stream, e));
    const fresh: StoredEvent[] = [];
    outcomes.forEach((o, i) => {
      if (o === 'new') {
        result.new++;
        fresh.push(events[i]!);
      } else if (o === 'duplicate') result.duplicate++;
      else result.conflict++;
    });
    if (fresh.length > 0) this.onApplied?.(fresh);
    return result;
  }
}
