/**
 * Deployments (src/deploy), read at each collection: per app, the canary's share of devices, the progress
 * of a state build, and the rollbacks, promotions and release downgrades so far. Calls, errors and latency
 * per version are the guest call metrics, labelled with the module and its version.
 */
import type { Meter } from '@opentelemetry/api';

export interface DeploymentGauges {
  app: string;
  /** The canary's share of devices (0 without a canary). */
  canaryShare: number;
  /** Done / total of a running build; undefined when none runs. */
  buildProgress: number | undefined;
  rollbacks: number;
  promotions: number;
  downgrades: number;
}

export function observeDeployments(meter: Meter, read: () => DeploymentGauges[]): void {
  meter.createObservableGauge('edgeagg.deployment.canary.share', { description: "The canary's share of devices (0: no canary).", unit: '1' }).addCallback((r) => {
    for (const g of read()) r.observe(g.canaryShare, { app: g.app });
  });
  meter.createObservableGauge('edgeagg.deployment.build.progress', { description: "A new version's state build: the part of the snapshot folded or copied.", unit: '1' }).addCallback((r) => {
    for (const g of read()) if (g.buildProgress !== undefined) r.observe(g.buildProgress, { app: g.app });
  });
  meter.createObservableCounter('edgeagg.deployment.rollbacks', { description: 'Canaries and builds rolled back (by the node or an operator).', unit: '{rollback}' }).addCallback((r) => {
    for (const g of read()) r.observe(g.rollbacks, { app: g.app });
  });
  meter.createObservableCounter('edgeagg.deployment.promotions', { description: 'Canary promotions (a larger share, or all traffic).', unit: '{promotion}' }).addCallback((r) => {
    for (const g of read()) r.observe(g.promotions, { app: g.app });
  });
  meter.createObservableCounter('edgeagg.deployment.downgrades', { description: 'Releases below the highest accepted, deployed with the downgrade flag.', unit: '{deployment}' }).addCallback((r) => {
    for (const g of read()) r.observe(g.downgrades, { app: g.app });
  });
}
