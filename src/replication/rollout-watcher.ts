/**
 * A node's side of the fleet rollout channel: follows the KV bucket of rollout records and hands each app's
 * latest record to the node's deployment manager. A node that was offline resumes from the KV revision it
 * stored: the watch starts with the last record of every app, and those at or below that revision are
 * skipped, so only what changed meanwhile is applied, and only the latest record of each app.
 */
import { KvWatchInclude, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../telemetry/index.js';
import { backoffDelay, sleep, withRetry, type BackoffPolicy } from '../resilience/index.js';
import { RECONNECT_BACKOFF } from './backoff.js';
import { fetchRolloutModule, openRollouts } from './rollout-channel.js';
import { decodeRolloutRecord, type RolloutRecord } from './rollout-record.js';

/** Retrying a failed apply: 1 s doubling to 1 min, 50% jitter. */
export const APPLY_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, multiplier: 2, jitter: 0.5 };

export interface RolloutWatcherOptions {
  /** The last KV revision this node applied, as the caller persisted it from {@link onApplied}. @default 0 (apply everything) */
  revision?: number;
  /**
   * Applies one app's record. `fetchModule` reads the module bytes from the Object Store and checks them
   * against `record.sha256` (it throws ModuleMissingError or ModuleDigestError otherwise).
   *
   * The watcher checks neither the signature nor the release counter: `apply` must verify
   * `record.signature_file` against the bytes and the node's trusted keys, and refuse a release lower than
   * the highest it accepted, before it stores or loads anything. A refusal that retrying cannot change
   * should be logged and resolve (the record then counts as applied); a throw is retried with
   * {@link retryBackoff} until it succeeds, the app gets a newer record, or the watcher stops.
   * Calls for one app never overlap; calls for different apps may.
   */
  apply: (record: RolloutRecord, fetchModule: () => Promise<Uint8Array>, revision: number) => Promise<void>;
  /**
   * Told the KV revision up to which every record was applied (or superseded) each time it grows: persist it
   * and pass it back as {@link revision} after a restart. It grows from 0 again when the stored revision is
   * past the bucket's last one (the bucket was recreated). @default none
   */
  onApplied?: (revision: number) => void | Promise<void>;
  /** The waits between attempts of a failed `apply`. @default APPLY_BACKOFF: 1 s doubling to 1 min, 50% jitter */
  retryBackoff?: BackoffPolicy;
  logger: Logger;
}

/** One app's records in one run: the one being applied and the newest waiting. */
interface AppSlot {
  waiting?: { record: RolloutRecord; revision: number };
  newest: number;
  /** Aborts the retry waits of the record being applied (a newer one arrived, or the run ends). */
  retry?: AbortController;
  /** Set and cleared synchronously by `drain`, so a record offered as it finishes is never left waiting. */
  draining: boolean;
  worker?: Promise<void>;
}

/**
 * Follows the rollout records. Run it inside a FleetConnection session (`session: (nc, signal) =>
 * watcher.run(nc, signal)`), or on a plain connection with {@link start} and {@link stop}.
 */
export class RolloutWatcher {
  private applied: number;
  private own: { controller: AbortController; run: Promise<void> } | undefined;

  constructor(private readonly options: RolloutWatcherOptions) {
    this.applied = Math.max(0, options.revision ?? 0);
  }

  /** The KV revision up to which every record was applied or superseded. */
  get revision(): number {
    return this.applied;
  }

  /** Follows the records on `nc` until {@link stop}. */
  start(nc: NatsConnection): void {
    if (this.own) return;
    const controller = new AbortController();
    this.own = { controller, run: this.run(nc, controller.signal) };
  }

  async stop(): Promise<void> {
    const own = this.own;
    this.own = undefined;
    if (!own) return;
    own.controller.abort();
    await own.run;
  }

  /**
   * Applies what changed since {@link revision}, then each new record as it comes, until `signal` aborts;
   * then waits for the applies in progress and resolves. It never rejects: a lost watch is opened again
   * after a backoff, and failures are logged.
   */
  async run(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const slots = new Map<string, AppSlot>();
    // Revisions of each app's newest record not yet applied: the persisted revision stays below all of them.
    const outstanding = new Map<string, number>();
    let seen = this.applied;
    const advance = async (): Promise<void> => {
      const next = outstanding.size === 0 ? seen : Math.min(...outstanding.values()) - 1;
      if (next <= this.applied) return;
      this.applied = next;
      try {
        await this.options.onApplied?.(next);
      } catch (error) {
        this.options.logger.error('could not record the applied rollout revision', { revision: next, error: message(error) });
      }
    };
    const settle = (app: string, revision: number): void => {
      if (outstanding.get(app) === revision) outstanding.delete(app);
    };

    const offer = (entry: KvWatchEntry): void => {
      if (entry.revision <= this.applied) return;
      seen = Math.max(seen, entry.revision);
      const slot = slots.get(entry.key) ?? { newest: 0, draining: false };
      slots.set(entry.key, slot);
      if (entry.revision <= slot.newest) return;
      slot.newest = entry.revision;
      slot.retry?.abort();
      slot.waiting = undefined;
      outstanding.delete(entry.key);
      if (entry.operation !== 'PUT') return;
      let record: RolloutRecord;
      try {
        record = decodeRolloutRecord(entry.key, entry.value);
      } catch (error) {
        this.options.logger.error('skipping a malformed rollout record', { app: entry.key, revision: entry.revision, error: message(error) });
        return;
      }
      slot.waiting = { record, revision: entry.revision };
      outstanding.set(entry.key, entry.revision);
      if (!slot.draining) {
        slot.draining = true;
        slot.worker = this.drain(nc, slot, signal, settle, advance);
      }
    };

    let attempt = 0;
    while (!signal.aborted) {
      try {
        const kv = await openRollouts(nc);
        const last = (await kv.status()).streamInfo.state.last_seq;
        if (this.applied > last) {
          // Revisions are the bucket's stream sequence: a bucket deleted and created again starts over.
          this.options.logger.warn('the stored rollout revision is past the bucket (recreated?); applying its records again', { revision: this.applied, last });
          this.applied = seen = 0;
          outstanding.clear();
          for (const slot of slots.values()) slot.newest = 0;
        }
        const watch = await kv.watch({ include: KvWatchInclude.LastValue });
        const onAbort = (): void => void watch.stop();
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        try {
          for await (const entry of watch) {
            attempt = 0;
            offer(entry);
            await advance();
          }
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        if (!signal.aborted) throw new Error('the rollout watch ended');
      } catch (error) {
        if (signal.aborted) break;
        const retryInMs = backoffDelay(RECONNECT_BACKOFF, attempt++);
        this.options.logger.warn('rollout watch failed; retrying', { error: message(error), retryInMs });
        await sleep(retryInMs, signal).catch(() => undefined);
      }
    }
    for (const slot of slots.values()) slot.retry?.abort();
    await Promise.all([...slots.values()].map((s) => s.worker));
  }

  /** Applies the slot's waiting records in turn. Clears `draining` in the same step as it finds none waiting. */
  private async drain(nc: NatsConnection, slot: AppSlot, signal: AbortSignal, settle: (app: string, revision: number) => void, advance: () => Promise<void>): Promise<void> {
    try {
      while (slot.waiting && !signal.aborted) {
        const { record, revision } = slot.waiting;
        slot.waiting = undefined;
        if (await this.applyOne(nc, record, revision, slot, signal)) {
          settle(record.app, revision);
          await advance();
        }
      }
    } finally {
      slot.draining = false;
    }
  }

  /** Applies one record, retried until it succeeds (true), or a newer record or the end of the run stops it (false). */
  private async applyOne(nc: NatsConnection, record: RolloutRecord, revision: number, slot: AppSlot, signal: AbortSignal): Promise<boolean> {
    const { logger } = this.options;
    const retry = new AbortController();
    slot.retry = retry;
    const onStop = (): void => retry.abort();
    signal.addEventListener('abort', onStop, { once: true });
    try {
      await withRetry(
        async (attempt) => {
          try {
            await this.options.apply(record, () => fetchRolloutModule(nc, record), revision);
          } catch (error) {
            logger.warn('applying a rollout failed; retrying', { app: record.app, version: record.version, revision, attempt, error: message(error) });
            throw error;
          }
        },
        { backoff: this.options.retryBackoff ?? APPLY_BACKOFF, maxAttempts: Infinity, budgetMs: Infinity },
        retry.signal,
      );
      logger.info('rollout applied', { app: record.app, version: record.version, release: record.release, revision });
      return true;
    } catch {
      return false;
    } finally {
      signal.removeEventListener('abort', onStop);
      if (slot.retry === retry) slot.retry = undefined;
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
