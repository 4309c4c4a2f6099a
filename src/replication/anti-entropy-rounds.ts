/**
 * Anti-entropy rounds: while connected, this node compares its per-minute digests with each live peer's
 * every interval and exchanges what differs (./anti-entropy.ts `reconcile`), so the fleet converges even
 * when JetStream lost messages. Rounds wait until the digests cover the event log (rebuilt at start when
 * a store without replication wrote to it).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { sleep } from '../resilience/index.js';
import { reconcile, type LocalReplica, type ReconcileReport } from './anti-entropy.js';
import { RemoteReplica } from './ae-transport.js';
import { DIGEST_BUCKET_MS, digestWindow } from './digest.js';
import type { FleetView } from './fleet.js';
import type { ReplicatorOptions } from './replicator.js';

export interface AntiEntropyStats {
  rounds: number;
  lastRoundAt: number | undefined;
  /** Events this node lacked and received through anti-entropy (pulled, or pushed to it by a peer). */
  repairedIn: number;
  /** Events peers lacked and received from this node's rounds. */
  repairedOut: number;
  conflicts: number;
  lastError: string | undefined;
}

/** The replicator's own options that rounds use, and what the replicator hands them. */
export interface AntiEntropyRoundsOptions
  extends Pick<ReplicatorOptions, 'store' | 'stream' | 'regions' | 'gracePeriodMs' | 'maxFutureMs' | 'antiEntropyIntervalMs' | 'heartbeatIntervalMs' | 'logger'> {
  /** This node's side of a round. */
  local: LocalReplica;
  /** The peers and their last heartbeats. */
  fleet: FleetView;
  /** True while this node catches up through JetStream (a round would only send events twice). */
  selfBusy: () => boolean;
}

/** A peer is live while its heartbeats are at most this many intervals old. */
const LIVE_HEARTBEATS = 5;
/** A peer that has seemed busy this long gets a round anyway. */
const OVERDUE_MS = 60_000;
/** Minutes of digests rebuilt per transaction. */
const REBUILD_CHUNK_MINUTES = 10;

export class AntiEntropyRounds {
  readonly stats: AntiEntropyStats = { rounds: 0, lastRoundAt: undefined, repairedIn: 0, repairedOut: 0, conflicts: 0, lastError: undefined };
  /** True once the digests cover the event log: peers may then ask this node for a round. */
  digestsReady = false;
  private stopped = false;
  private rebuilding: Promise<void> | undefined;
  /** Last round per peer (Unix ms), to run a round even with a peer that always seems busy. */
  private readonly lastRoundWith = new Map<string, number>();

  constructor(private readonly options: AntiEntropyRoundsOptions) {}

  /** Brings the digests up to date in the background. */
  start(): void {
    this.rebuilding = this.rebuildDigests();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.rebuilding;
  }

  /** Runs rounds with every live peer until `signal` aborts (one connected session). */
  async run(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const interval = this.options.antiEntropyIntervalMs ?? 30_000;
    // The first round soon after connecting (peers announce themselves with their first heartbeats).
    await sleep(Math.min(interval, (this.options.heartbeatIntervalMs ?? 2_000) * 1.5), signal);
    while (!signal.aborted) {
      if (this.digestsReady) await this.round(nc, signal, interval);
      await sleep(interval * (0.8 + 0.4 * Math.random()), signal);
    }
  }

  private async round(nc: NatsConnection, signal: AbortSignal, interval: number): Promise<void> {
    const { logger, stream } = this.options;
    const now = Date.now();
    const window = digestWindow(now, this.options.gracePeriodMs);
    try {
      this.options.store.pruneDigests(stream, window.fromMinute - 60);
    } catch (error) {
      logger.warn('cannot prune old digests', { error });
    }
    const selfBusy = this.options.selfBusy();
    const live = this.options.fleet.live(LIVE_HEARTBEATS * (this.options.heartbeatIntervalMs ?? 2_000), now);
    for (const peer of live) {
      if (signal.aborted) return;
      if (!peer.digests_ready) continue;
      // While either side is catching up through JetStream, differences are expected and JetStream closes
      // them; a round would only send the same events twice. Not forever, though.
      const overdue = now - (this.lastRoundWith.get(peer.node_id) ?? now) > Math.max(5 * interval, OVERDUE_MS);
      if ((selfBusy || peer.catching_up) && !overdue) {
        if (!this.lastRoundWith.has(peer.node_id)) this.lastRoundWith.set(peer.node_id, now);
        continue;
      }
      this.lastRoundWith.set(peer.node_id, now);
      let report: ReconcileReport;
      try {
        report = await reconcile(this.options.local, new RemoteReplica(nc, peer.node_id), {
          stream,
          window,
          pull: (p) => follows(this.options.regions, p),
          push: (p) => follows(peer.regions, p),
          signal,
        });
      } catch (error) {
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        // A peer that just left has no responders: expected, until its heartbeats age out.
        const gone = /no responders/i.test(this.stats.lastError);
        logger[gone ? 'debug' : 'warn']('anti-entropy round failed', { peer: peer.node_id, error });
        continue;
      }
      this.stats.rounds++;
      this.stats.lastRoundAt = Date.now();
      this.stats.repairedOut += report.pushed.new;
      this.stats.conflicts += report.conflicts;
      if (report.minutes > 0) {
        logger.info('anti-entropy repaired differences', {
          peer: peer.node_id,
          minutes: report.minutes,
          received: report.pulled.new,
          sent: report.pushed.new,
          conflicts: report.conflicts,
          complete: report.complete,
        });
      }
    }
  }

  /**
   * Brings the digests up to date with the event log when a store without replication wrote to it (or
   * they were never built), a few minutes per transaction. Rounds wait for it.
   */
  private async rebuildDigests(): Promise<void> {
    const { store, stream, logger } = this.options;
    try {
      if (store.digestsComplete()) {
        this.digestsReady = true;
        return;
      }
      const started = performance.now();
      const window = digestWindow(Date.now(), this.options.gracePeriodMs);
      // Up to the future limit, and a day more for peers whose clocks run ahead.
      const end = Math.floor((Date.now() + this.options.maxFutureMs) / DIGEST_BUCKET_MS) + 24 * 60;
      let events = 0;
      for (let from = window.fromMinute; from < end && !this.stopped; from += REBUILD_CHUNK_MINUTES) {
        events += store.rebuildDigests(stream, from, Math.min(end, from + REBUILD_CHUNK_MINUTES));
        await new Promise((r) => setImmediate(r));
      }
      if (this.stopped) return;
      store.markDigestsComplete(window.fromMinute);
      this.digestsReady = true;
      logger.info('rebuilt the anti-entropy digests', { events, ms: Math.round(performance.now() - started) });
    } catch (error) {
      logger.error('cannot rebuild the anti-entropy digests; anti-entropy is off until the next start', { error });
    }
  }
}

function follows(regions: readonly string[], partition: string): boolean {
  return regions.length === 0 || regions.includes(partition);
}
