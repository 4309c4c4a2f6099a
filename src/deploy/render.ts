/** `GET /v1/deployments`: every app, its versions, traffic shares, state, health and history, as JSON. */
import type { DeploymentManager } from './deployment-manager.js';

export function renderDeployments(manager: DeploymentManager): { apps: unknown[] } {
  const versions = manager.registryVersions();
  return {
    apps: manager.apps.map((app) => {
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
        rolled_back: record.rolledBack,
        versions: versions.filter((v) => v.app === app).map((v) => ({ version: v.version, sha256: v.sha256, release: v.release, key_id: v.keyId, added_at_ms: v.addedAtMs })),
        history: manager.history(app).map((h) => ({ at_ms: h.atMs, actor: h.actor, action: h.action, version: h.version, detail: h.detail })),
      };
    }),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
