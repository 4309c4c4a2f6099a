/**
 * Deployments: apps and their versions on this node, the module registry, sticky canaries judged on the
 * node, automatic rollback, and new versions' state built in the background (DESIGN.md promise 5).
 */
export { DeploymentManager } from './deployment-manager.js';
export type { AppHost, AppPipeline, DeploymentPolicy, DeployRequest, DeploymentManagerOptions } from './deployment-options.js';
export { DeployError } from './deploy-errors.js';
export { ModuleRegistry } from './registry.js';
export { LiveVersions, type VersionStats } from './app-versions.js';
export { canaryPoint, inCanary } from './canary.js';
export { HealthWindow, judge, type HealthPolicy, type HealthSummary, type Verdict } from './health-window.js';
export { StateBuilder, type BuildMode, type BuildProgress, type FoldSource } from './state-builder.js';
export { deploymentRoutes, type DeploymentRoutesOptions } from './admin-routes.js';
export { renderDeployments, deploymentSummary, deploymentGauges, versionsSeen, type DeploymentSummary } from './render.js';
export type { DeploymentRecord, VersionRef } from './deployment-record.js';
