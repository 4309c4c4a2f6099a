/**
 * Digests: per (partition, bucket) the count of events and two 32-bit lanes of the sum of their hashes
 * (src/store `eventHash`). The sum of hashes of a set does not depend on the order the events arrived in,
 * so two replicas holding the same events hold the same digests; one event more or less changes the count,
 * and a different event with the same count changes the sums (a collision needs 2^-64 luck).
 */
import { DIGEST_BUCKET_MS, eventHash, type EventDigest } from '../store/index.js';
import type { StoredEvent } from '../runtime/index.js';

export { DIGEST_BUCKET_MS, eventHash, type EventDigest };

export const MINUTES_PER_HOUR = 60;

/** The minutes `[fromMinute, toMinute)` a round compares. */
export interface DigestWindow {
  fromMinute: number;
  toMinute: number;
}

/**
 * The window a round compares: from the start of the grace period to `settleMs` ago. The most recent minutes
 * are left out because under load they always differ by the readings in flight through JetStream (a few
 * milliseconds' worth), and comparing them would send whole minutes of readings for nothing; they are
 * compared by the rounds after they settle.
 */
export function digestWindow(nowMs: number, gracePeriodMs: number, settleMs: number = SETTLE_MS): DigestWindow {
  return {
    fromMinute: Math.floor((nowMs - gracePeriodMs) / DIGEST_BUCKET_MS),
    toMinute: Math.floor((nowMs - settleMs) / DIGEST_BUCKET_MS),
  };
}

/** How old a minute must be before rounds compare it. */
export const SETTLE_MS = 2 * 60_000;

function key(partition: string, bucket: number): string {
  return `${bucket}\n${partition}`;
}

/** The (partition, bucket) pairs whose digests differ, including those only one side has, sorted. */
export function differingBuckets(mine: readonly EventDigest[], theirs: readonly EventDigest[]): Array<{ partition: string; bucket: number }> {
  const index = new Map<string, EventDigest>();
  for (const d of mine) if (d.count > 0) index.set(key(d.partition, d.bucket), d);
  const out: Array<{ partition: string; bucket: number }> = [];
  for (const d of theirs) {
    if (d.count === 0) continue;
    const k = key(d.partition, d.bucket);
    const m = index.get(k);
    index.delete(k);
    if (m === undefined || m.count !== d.count || m.h1 !== d.h1 || m.h2 !== d.h2) out.push({ partition: d.partition, bucket: d.bucket });
  }
  for (const m of index.values()) out.push({ partition: m.partition, bucket: m.bucket });
  return out.sort((a, b) => a.bucket - b.bucket || (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
}

/** Digests of a set of events, computed directly: what a store keeps incrementally (used by simulations and checks). */
export function digestEvents(events: Iterable<StoredEvent>, level: 'minute' | 'hour'): EventDigest[] {
  const sums = new Map<string, EventDigest>();
  for (const e of events) {
    const minute = Math.floor(e.timeMs / DIGEST_BUCKET_MS);
    const bucket = level === 'minute' ? minute : Math.floor(minute / MINUTES_PER_HOUR);
    const [h1, h2] = eventHash(e);
    const k = key(e.partition, bucket);
    const d = sums.get(k);
    if (d === undefined) sums.set(k, { partition: e.partition, bucket, count: 1, h1, h2 });
    else {
      d.count++;
      d.h1 = (d.h1 + h1) % 2 ** 32;
      d.h2 = (d.h2 + h2) % 2 ** 32;
    }
  }
  return [...sums.values()];
}
