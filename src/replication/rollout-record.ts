/**
 * The rollout record: what the fleet should run of one app, as JSON in the KV bucket {@link ROLLOUTS_BUCKET}
 * under the app's name; the module bytes are in the Object Store {@link MODULES_BUCKET} under their SHA-256.
 * Loads no NATS code.
 */
import { createHash } from 'node:crypto';
import { InvalidRolloutRecordError } from './rollout-errors.js';

/** The JetStream KV bucket of rollout records, one key per app. */
export const ROLLOUTS_BUCKET = 'edgeagg-rollouts';
/** The JetStream Object Store bucket of module bytes, one object per module, named by its hex SHA-256. */
export const MODULES_BUCKET = 'edgeagg-modules';

/** One app's rollout, as published to the fleet. */
export interface RolloutRecord {
  /** The app's name (the module manifest's `name`); also the KV key. */
  app: string;
  /** The module's version (the manifest's `version`). */
  version: string;
  /** Hex SHA-256 of the module bytes; also the object's name in {@link MODULES_BUCKET}. */
  sha256: string;
  /** The app's release counter (the signed manifest's): a publish of a lower one than stored is refused. */
  release: number;
  /** Share of devices that get this version as a canary, in [0, 1]; 1: all traffic. */
  canary_share: number;
  /** The module's `.sig.json` object, as signed; the node verifies it before loading. */
  signature_file: unknown;
  /** Who published it (an operator or a CI job), for the deployment history. */
  published_by: string;
  /** When it was published, in Unix milliseconds. */
  published_at_ms: number;
}

const APP_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * `value` as a rollout record, with only the record's fields.
 * @throws InvalidRolloutRecordError naming the first field that is wrong.
 */
export function parseRolloutRecord(value: unknown): RolloutRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRolloutRecordError('not a JSON object');
  const r = value as Record<string, unknown>;
  const fail = (problem: string): never => {
    throw new InvalidRolloutRecordError(problem);
  };
  if (typeof r.app !== 'string' || !APP_RE.test(r.app)) fail('app must be a module name (a-z, 0-9, _ and -, at most 64)');
  if (typeof r.version !== 'string' || !VERSION_RE.test(r.version)) fail('version must be a module version');
  if (typeof r.sha256 !== 'string' || !SHA256_RE.test(r.sha256)) fail('sha256 must be 64 lowercase hex digits');
  if (!Number.isSafeInteger(r.release) || (r.release as number) < 0) fail('release must be a whole number >= 0');
  if (typeof r.canary_share !== 'number' || !(r.canary_share >= 0 && r.canary_share <= 1)) fail('canary_share must be a number in [0, 1]');
  if (r.signature_file === null || typeof r.signature_file !== 'object' || Array.isArray(r.signature_file)) fail('signature_file must be the .sig.json object');
  if (typeof r.published_by !== 'string') fail('published_by must be a string');
  if (!Number.isSafeInteger(r.published_at_ms) || (r.published_at_ms as number) < 0) fail('published_at_ms must be Unix milliseconds');
  return {
    app: r.app as string,
    version: r.version as string,
    sha256: r.sha256 as string,
    release: r.release as number,
    canary_share: r.canary_share as number,
    signature_file: r.signature_file,
    published_by: r.published_by as string,
    published_at_ms: r.published_at_ms as number,
  };
}

/** The record as stored in the KV bucket. */
export function encodeRolloutRecord(record: RolloutRecord): string {
  return JSON.stringify(record);
}

/**
 * The record stored as `bytes` under the key `app`.
 * @throws InvalidRolloutRecordError when it is not JSON, not a record, or names another app.
 */
export function decodeRolloutRecord(app: string, bytes: Uint8Array): RolloutRecord {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InvalidRolloutRecordError('not JSON');
  }
  const record = parseRolloutRecord(value);
  if (record.app !== app) throw new InvalidRolloutRecordError(`stored under ${app} but names ${record.app}`);
  return record;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
