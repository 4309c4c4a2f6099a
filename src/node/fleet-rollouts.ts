/**
 * The node's side of fleet rollouts (docs/replication.md, "Rolling out module versions to the fleet"): a
 * record read from NATS is verified and deployed here like any deploy (signature against this node's trusted
 * keys, this node's release counter, grants); a refusal that can never succeed is logged and skipped, one that
 * waits for this node (a canary or build in progress) is retried by the watcher.
 */
import { DeployError, type DeploymentManager } from '../deploy/index.js';
import type { RolloutRecord } from '../replication/index.js';
import type { Logger } from '../telemetry/index.js';

/** Retried by the watcher (with backoff) until the node can take the rollout. */
const WAIT_CODES = new Set(['deployment_in_progress', 'canary_in_progress']);

export async function applyRollout(manager: DeploymentManager, record: RolloutRecord, fetchModule: () => Promise<Uint8Array>, logger: Logger): Promise<void> {
  const current = manager.record(record.app);
  const held = [current?.stable?.version, current?.canary?.ref.version, current?.building?.ref.version];
  if (held.includes(record.version)) return;
  const wasm = await fetchModule();
  try {
    await manager.deploy({
      bundle: { wasm, signatureFile: record.signature_file },
      canaryShare: record.canary_share < 1 ? record.canary_share : undefined,
      actor: `fleet:${record.published_by}`,
    });
    logger.info('applying a fleet rollout', { app: record.app, version: record.version, canary_share: record.canary_share, published_by: record.published_by });
  } catch (error) {
    if (error instanceof DeployError && !WAIT_CODES.has(error.code)) {
      logger.error('refused a fleet rollout', { app: record.app, version: record.version, code: error.code, error: error.message });
      return;
    }
    throw error;
  }
}
