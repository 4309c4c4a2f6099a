/**
 * The failures of the fleet rollout channel (./rollout-channel.ts, ./rollout-watcher.ts): one class each,
 * with a stable `code` for logs, counters and HTTP answers.
 */

/** The base of every rollout channel failure. */
export class RolloutError extends Error {
  override name = 'RolloutError';
  constructor(
    /** Short and stable: `invalid_rollout`, `release_rollback`, `rollout_conflict`, `module_missing`, `module_digest_mismatch`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A rollout record is not well formed (a publisher's mistake, or a record written by something else). */
export class InvalidRolloutRecordError extends RolloutError {
  override name = 'InvalidRolloutRecordError';
  constructor(readonly problem: string) {
    super('invalid_rollout', `invalid rollout record: ${problem}`);
  }
}

/**
 * The fleet already has a higher release of the app than the one published. Publish a higher release, or pass
 * `allowDowngrade` to go back on purpose (each node still applies its own anti-rollback rule).
 */
export class RolloutDowngradeError extends RolloutError {
  override name = 'RolloutDowngradeError';
  constructor(
    readonly app: string,
    readonly storedRelease: number,
    readonly release: number,
  ) {
    super('release_rollback', `the fleet has release ${storedRelease} of ${app}; release ${release} is lower (pass allowDowngrade to publish it anyway)`);
  }
}

/** Other publishers changed the app's record every time this one tried to: nothing was written. Publish again. */
export class RolloutConflictError extends RolloutError {
  override name = 'RolloutConflictError';
  constructor(
    readonly app: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super('rollout_conflict', `the rollout record of ${app} changed under each of ${attempts} attempts; nothing was written`, options);
  }
}

/** The module a rollout names is not in the Object Store (deleted, or the bucket was lost). Publish it again. */
export class ModuleMissingError extends RolloutError {
  override name = 'ModuleMissingError';
  constructor(readonly sha256: string) {
    super('module_missing', `module ${sha256} is not in the fleet's module store`);
  }
}

/** Module bytes whose SHA-256 is not the one the rollout record names: they are never applied. */
export class ModuleDigestError extends RolloutError {
  override name = 'ModuleDigestError';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super('module_digest_mismatch', `module bytes hash to ${actual}, the rollout record names ${expected}`);
  }
}
