/**
 * What a deploy is refused for before anything is written, besides what the loader checks (signature, hash,
 * ABI, limits, grants): its size and shares, then its version against the app's record (a build or canary in
 * progress, the same version with other bytes, the version already serving, a lower release counter).
 */
import type { Manifest } from '../runtime/index.js';
import type { ModuleVersionRow } from '../store/index.js';
import { DeployError } from './deploy-errors.js';
import type { DeploymentRecord } from './deployment-record.js';

/** Checks what needs no loading: the module's size and the shares asked for. */
export function checkRequest(request: { bundle: { wasm: Uint8Array }; canaryShare?: number; stages?: number[] }, maxModuleBytes: number): void {
  const size = request.bundle.wasm.byteLength;
  if (size > maxModuleBytes) throw new DeployError(413, 'module_too_large', `the module is ${size} bytes; this node accepts at most ${maxModuleBytes}`);
  const shareProblem = [request.canaryShare, ...(request.stages ?? [])].find((s) => s !== undefined && !(s > 0 && s <= 1));
  if (shareProblem !== undefined) throw new DeployError(400, 'invalid_share', 'canary shares are percentages above 0 and at most 100');
}

/** Checks the loaded module's version against the app's record and the registry. */
export function checkVersion(m: Manifest, record: DeploymentRecord, known: ModuleVersionRow | undefined, building: boolean, allowDowngrade: boolean): void {
  if (building || record.building) throw new DeployError(409, 'deployment_in_progress', `${m.name} is already building version ${record.building?.ref.version}; wait for it or roll it back`);
  if (record.canary) throw new DeployError(409, 'canary_in_progress', `${m.name} has canary ${record.canary.ref.version} in progress; promote it or roll it back first`);
  if (known && known.sha256 !== m.sha256) throw new DeployError(409, 'version_exists', `${m.name}@${m.version} is already registered with other bytes; give the new build a new version`);
  if (record.stable?.version === m.version) throw new DeployError(409, 'already_serving', `${m.name}@${m.version} is already the stable version`);
  const release = m.release ?? 0;
  if (release < record.highestRelease && !allowDowngrade) {
    throw new DeployError(409, 'release_rollback', `release ${release} is below release ${record.highestRelease}, the highest this node accepted for ${m.name}; pass the downgrade flag to accept it`);
  }
}
