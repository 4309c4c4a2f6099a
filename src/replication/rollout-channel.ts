/**
 * Publishing module versions to the fleet over JetStream (issue 15, "Fleet rollout over NATS"): the bytes go
 * to the Object Store {@link MODULES_BUCKET} under their SHA-256, then the app's record in the KV bucket
 * {@link ROLLOUTS_BUCKET} is replaced by compare-and-swap on the revision read, so two publishers never
 * overwrite each other unseen. Nodes follow the bucket with ./rollout-watcher.ts.
 */
import { JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { backoffDelay, sleep, type BackoffPolicy } from '../resilience/index.js';
import { ModuleDigestError, ModuleMissingError, RolloutConflictError, RolloutDowngradeError } from './rollout-errors.js';
import { MODULES_BUCKET, ROLLOUTS_BUCKET, decodeRolloutRecord, encodeRolloutRecord, parseRolloutRecord, sha256Hex, type RolloutRecord } from './rollout-record.js';

/** Revisions of each app's record the KV bucket keeps (the deployment history is the node's, not this). */
const RECORD_HISTORY = 5;
/** Waits between compare-and-swap attempts: short, and full jitter so racing publishers spread out. */
const CAS_BACKOFF: BackoffPolicy = { initialMs: 20, maxMs: 1_000, multiplier: 2, jitter: 1 };

export interface PublishRolloutOptions {
  /** Publish even when the fleet has a higher release of the app (a deliberate downgrade). @default false */
  allowDowngrade?: boolean;
  /** Compare-and-swap attempts in all before {@link RolloutConflictError}. @default 10 */
  maxAttempts?: number;
  /**
   * Called after each read of the app's current record, before the compare-and-swap write: a CLI can show
   * what it replaces, and tests make publishers race here. @default none
   */
  onRead?: (current: { record: RolloutRecord | undefined; revision: number }) => void | Promise<void>;
}

export interface PublishedRollout {
  /** The KV revision of the record written: what watchers report to `onApplied`. */
  revision: number;
  /** False when the Object Store already held these bytes under their SHA-256. */
  uploaded: boolean;
  /** Compare-and-swap attempts it took (1: no other publisher was in the way). */
  attempts: number;
  /** The record it replaced, if any. */
  replaced: RolloutRecord | undefined;
}

/** The rollout records bucket, created when missing (file storage, {@link RECORD_HISTORY} revisions per app). */
export function openRollouts(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).create(ROLLOUTS_BUCKET, { history: RECORD_HISTORY, storage: StorageType.File, description: 'edgeagg rollout records, one per app' });
}

/** The module bytes bucket, created when missing (file storage). */
export function openModules(nc: NatsConnection): Promise<ObjectStore> {
  return new Objm(nc).create(MODULES_BUCKET, { storage: StorageType.File, description: 'edgeagg module bytes by SHA-256' });
}

/**
 * Publishes `record` to the fleet: stores `moduleBytes` (unless the same bytes are there already), then
 * writes the record by compare-and-swap, creating it when the app has none, re-reading and retrying a
 * bounded number of times when another publisher wrote in between. Buckets are created when missing.
 * The bytes are not verified here beyond their hash: every node verifies signature and release itself.
 * @throws InvalidRolloutRecordError, ModuleDigestError (bytes that are not `record.sha256`),
 *   RolloutDowngradeError (the stored release is higher), RolloutConflictError (attempts ran out);
 *   nothing is written to the KV bucket then.
 */
export async function publishRollout(nc: NatsConnection, record: RolloutRecord, moduleBytes: Uint8Array, options: PublishRolloutOptions = {}): Promise<PublishedRollout> {
  const checked = parseRolloutRecord(record);
  const actual = sha256Hex(moduleBytes);
  if (actual !== checked.sha256) throw new ModuleDigestError(checked.sha256, actual);
  const [kv, modules] = await Promise.all([openRollouts(nc), openModules(nc)]);
  const uploaded = await storeModule(modules, checked, moduleBytes);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 10);
  const value = encodeRolloutRecord(checked);
  for (let attempt = 1; ; attempt++) {
    const entry = await kv.get(checked.app);
    // A deleted or purged key leaves a marker whose revision the next write must name, as for a live one.
    const revision = entry?.revision ?? 0;
    const replaced = entry?.operation === 'PUT' ? storedRecord(checked.app, entry.value) : undefined;
    if (replaced && replaced.release > checked.release && !options.allowDowngrade) throw new RolloutDowngradeError(checked.app, replaced.release, checked.release);
    await options.onRead?.({ record: replaced, revision });
    try {
      const written = await kv.put(checked.app, value, { previousSeq: revision });
      return { revision: written, uploaded, attempts: attempt, replaced };
    } catch (error) {
      if (!isCasConflict(error)) throw error;
      if (attempt >= maxAttempts) throw new RolloutConflictError(checked.app, attempt, { cause: error });
      await sleep(backoffDelay(CAS_BACKOFF, attempt - 1));
    }
  }
}

/**
 * The bytes of the module `record` names, from the Object Store, checked against `record.sha256`.
 * @throws ModuleMissingError when there is no such object; ModuleDigestError when the bytes differ.
 */
export async function fetchRolloutModule(nc: NatsConnection, record: RolloutRecord): Promise<Uint8Array> {
  const modules = await new Objm(nc).open(MODULES_BUCKET);
  const bytes = await modules.getBlob(record.sha256);
  if (bytes === null) throw new ModuleMissingError(record.sha256);
  const actual = sha256Hex(bytes);
  if (actual !== record.sha256) throw new ModuleDigestError(record.sha256, actual);
  return bytes;
}

/** Puts the bytes under their SHA-256 unless an object of that name with the same digest is there. */
async function storeModule(modules: ObjectStore, record: RolloutRecord, bytes: Uint8Array): Promise<boolean> {
  const info = await modules.info(record.sha256);
  if (info && !info.deleted && objectDigestHex(info.digest) === record.sha256) return false;
  // An object of that name with other bytes is damaged (its name is the hash of what it should hold): replace it.
  await modules.putBlob({ name: record.sha256, description: `${record.app} ${record.version}` }, bytes);
  return true;
}

/** The Object Store's digest (`SHA-256=` and padded base64url) as hex; '' when it is another kind. */
function objectDigestHex(digest: string): string {
  const prefix = 'SHA-256=';
  return digest.startsWith(prefix) ? Buffer.from(digest.slice(prefix.length), 'base64url').toString('hex') : '';
}

/** The stored record; one that does not parse is replaced like any other (it holds no release to protect). */
function storedRecord(app: string, bytes: Uint8Array): RolloutRecord | undefined {
  try {
    return decodeRolloutRecord(app, bytes);
  } catch {
    return undefined;
  }
}

function isCasConflict(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}
