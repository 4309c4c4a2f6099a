/** What the deployment manager (./deployment-manager.ts) is given and gives: its options, a deploy, a live app. */
import type { Capability, GuestModule, ModuleBundle, Runtime } from '../runtime/index.js';
import type { SqliteStore } from '../store/index.js';
import type { Logger } from '../telemetry/index.js';
import type { LiveVersions } from './app-versions.js';
import type { HealthPolicy } from './health-window.js';
import type { ModuleRegistry } from './registry.js';
import type { BuildMode, FoldSource } from './state-builder.js';

/** The write path of an app, as the manager needs it (src/ingest's IngestPipeline). */
export interface AppPipeline extends FoldSource {
  drain(): Promise<void>;
}

/** One app live on the node: its versions and its write path. */
export interface AppHost<P extends AppPipeline = AppPipeline> {
  app: string;
  versions: LiveVersions;
  pipeline: P;
}

export interface DeploymentPolicy extends HealthPolicy {
  /** How long a staged canary must stay healthy at a share before the next, in ms. */
  stageIntervalMs: number;
  /** The largest module accepted, in bytes. */
  maxModuleBytes: number;
}

export interface DeployRequest {
  bundle: ModuleBundle;
  /** Share of devices (0..1) the new version serves once built; absent: it replaces the stable version. */
  canaryShare?: number;
  /** Staged promotion, as shares (e.g. [0.05, 0.25, 1]); starts at the first. */
  stages?: number[];
  /** Capabilities granted (a new app gets none unless named); absent: the app's current grants. */
  grants?: Capability[];
  config?: Record<string, string>;
  /** How the new version gets its state. @default 'rebuild' */
  state?: BuildMode;
  /** Accept a release counter below the highest accepted (logged, counted). */
  allowDowngrade?: boolean;
  /** Who deploys (a token subject). */
  actor: string;
  /** Only check (everything a deploy checks), write nothing: before publishing to the fleet. */
  dryRun?: boolean;
}

export interface DeploymentManagerOptions<P extends AppPipeline> {
  store: SqliteStore;
  registry: ModuleRegistry;
  runtime: Runtime;
  policy: DeploymentPolicy;
  /** Makes an app's write path, folding into `versions.folders()`. */
  createPipeline: (app: string, versions: LiveVersions, onFolderFailed: (module: GuestModule, error: unknown) => void) => P;
  /** Reads the trusted module keys again (a key added to `<data-dir>/trusted-keys/` counts from the next deploy). @default none */
  refreshTrust?: () => void;
  /** Config every version of this app gets whatever the record says (the primary app's node settings). */
  fixedConfig?: (app: string) => Record<string, string> | undefined;
  logger: Logger;
  /** @default Date.now */
  now?: () => number;
}
