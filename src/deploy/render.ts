/**
 * Views of the deployments, as JSON: `GET /v1/deployments` (everything), the summary `GET /v1/node` and the
 * dashboard show, what the fleet view shows of this node, and the gauges of metrics.
 */
import type { AppVersionsSeen } from '../replication/index.js';
import type { DeploymentManager } from './deployment-manager.js';
import type { DeploymentRecord } from './deployment-record.js';
import type { BuildProgress } from './state-builder.js';

export function renderDeployments(manager: DeploymentManager): { apps: unknown[] } {
  const versions = manager.registryVersions();
  return { apps: manager.apps.map((app) => renderApp(manager, app, versions)) };
}

/** One app on this node: `GET /v1/deployments` lists them; a promotion or a rollback answers with its app. */
export function renderApp(manager: DeploymentManager, app: string, versions = manager.registryVersions()): unknown {
  const record = manager.record(app)!;
  const host = manager.host(app);
  const progress = manager.buildProgress(app);
  const health = (which: 'stable' | 'canary'): unknown => {
    const module = which === 'stable' ? host?.versions.stable() : host?.versions.canary;
    if (!host || !module) return null;
    const s = host.versions.stats(module);
    return { calls: s.calls, errors: s.errors, error_rate: round(s.errorRate), mean_latency_ms: round(s.meanLatencyMs) };
  };
  return {
    app,
    grants: record.grants,
    highest_release: record.highestRelease,
    stable: record.stable && { ...record.stable, traffic_percent: round(100 - 100 * (host?.versions.canaryShare ?? 0)), health: health('stable') },
    canary: record.canary && {
      ...record.canary.ref,
      traffic_percent: round(100 * record.canary.share),
      stages_percent: record.canary.stages.map((s) => round(100 * s)),
      since_ms: record.canary.sinceMs,
      health: health('canary'),
    },
    building: record.building && {
      ...record.building.ref,
      mode: record.building.mode,
      started_at_ms: record.building.startedAtMs,
      then: record.building.canaryShare === null ? 'stable' : `canary ${round(100 * record.building.canaryShare)}%`,
      progress: progress && { phase: progress.phase, done: progress.done, total: progress.total, caught_up: progress.caughtUp },
    },
    rolled_back: rollback(record),
    versions: versions
      .filter((v) => v.app === app)
      .map((v) => ({ version: v.version, sha256: v.sha256, release: v.release, key_id: v.keyId, added_at_ms: v.addedAtMs })),
    history: manager.history(app).map((h) => ({ at_ms: h.atMs, actor: h.actor, action: h.action, version: h.version, detail: h.detail })),
  };
}

/** The last rollback, as the API shows it. */
function rollback(record: DeploymentRecord): { version: string; reason: string; at_ms: number } | null {
  const r = record.rolledBack;
  return r && { version: r.version, reason: r.reason, at_ms: r.atMs };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** One app's deployment in short: `GET /v1/node` and the dashboard. */
export interface DeploymentSummary {
  app: string;
  stable: string | null;
  canary: string | null;
  canary_percent: number;
  building: string | null;
  /** How far a running build is, 0-100; null when none runs. */
  build_percent: number | null;
  rolled_back: { version: string; reason: string; at_ms: number } | null;
}

export function deploymentSummary(manager: DeploymentManager): DeploymentSummary[] {
  return manager.apps.map((app) => {
    const r = manager.record(app)!;
    const p = manager.buildProgress(app);
    return {
      app,
      stable: r.stable?.version ?? null,
      canary: r.canary?.ref.version ?? null,
      canary_percent: round(100 * (r.canary?.share ?? 0)),
      building: r.building?.ref.version ?? null,
      build_percent: p ? Math.floor(100 * progressRatio(p)) : null,
      rolled_back: rollback(r),
    };
  });
}

/** What the fleet view shows of this node: each app's versions. */
export function versionsSeen(manager: DeploymentManager): AppVersionsSeen[] {
  return deploymentSummary(manager).map(({ app, stable, canary, canary_percent, building }) => ({ app, stable, canary, canary_percent, building }));
}

/** Per app, for metrics: the canary's share, a build's progress, and counts since start. */
export function deploymentGauges(manager: DeploymentManager): Array<{ app: string; canaryShare: number; buildProgress: number | undefined; rollbacks: number; promotions: number; downgrades: number }> {
  return manager.apps.map((app) => {
    const p = manager.buildProgress(app);
    return { app, canaryShare: manager.host(app)?.versions.canaryShare ?? 0, buildProgress: p && progressRatio(p), ...manager.counts(app) };
  });
}

function progressRatio(p: BuildProgress): number {
  return p.total === 0 ? 0 : Math.min(1, p.done / p.total);
}
