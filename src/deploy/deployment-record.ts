/**
 * An app's deployment record: what the node serves and is building, as one JSON document in SQLite,
 * replaced whole in a transaction (a restart finds the old record or the new one, never a mix).
 */
import type { Capability } from '../runtime/index.js';
import type { BuildMode } from './state-builder.js';

export interface VersionRef {
  version: string;
  sha256: string;
  release: number;
}

export interface CanaryRecord {
  ref: VersionRef;
  /** Share of devices (0..1). */
  share: number;
  /** Staged promotion: the shares to go through after healthy intervals (empty: promoted by hand). */
  stages: number[];
  /** When the current share began (ms since the epoch). */
  sinceMs: number;
}

export interface BuildRecord {
  ref: VersionRef;
  mode: BuildMode;
  /** The canary share it takes once built; null: it replaces the stable version. */
  canaryShare: number | null;
  stages: number[];
  startedAtMs: number;
  /** Who asked, and as what (`deploy`, `rollback`): written to the history once it serves. */
  actor: string;
  action: string;
}

export interface DeploymentRecord {
  app: string;
  /** Capabilities the operator granted the app; nothing by default. */
  grants: Capability[];
  /** Values its guests read with `config_get`. */
  config: Record<string, string>;
  /** The highest release counter the node has accepted for the app (anti-rollback). */
  highestRelease: number;
  stable: VersionRef | null;
  canary: CanaryRecord | null;
  building: BuildRecord | null;
  /** The last version taken out of service by a rollback, and why. */
  rolledBack: { version: string; reason: string; atMs: number } | null;
}

export function newRecord(app: string, grants: Capability[], config: Record<string, string>): DeploymentRecord {
  return { app, grants, config, highestRelease: 0, stable: null, canary: null, building: null, rolledBack: null };
}

/** A share as a percentage, e.g. `12.5%`. */
export function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/** A history line's detail for a deploy: how it builds its state and what it serves then. */
export function describeDeploy(record: DeploymentRecord): string {
  const b = record.building!;
  const target = b.stages.length > 0 ? `stages ${b.stages.map(percent).join(' → ')}` : b.canaryShare !== null ? `canary ${percent(b.canaryShare)}` : 'all traffic once built';
  return `${b.mode} state; ${target}`;
}
