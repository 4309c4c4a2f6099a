/**
 * The sensor-fleet simulator: simulated sensors posting realistic readings, with the faults real
 * fleets have, and a final check of the node's aggregates against what the node acknowledged.
 *
 * ```ts
 * const sim = startSimulator({ url: node.url, dataDir: './data', devices: 8, rate: 5 });
 * // ...
 * const summary = await sim.stop();
 * ```
 */
export { startSimulator, type Simulator, type SimulatorSummary } from './simulator.js';
export { DEFAULT_FAULTS, NO_FAULTS, SimulatorOptionsError, type FaultOptions, type SimulatorOptions } from './options.js';
export type { SimulatorStats } from './ledger.js';
export type { CheckResult, RegionCheck } from './check.js';
export { DEFAULT_REGIONS } from './climate.js';
export { ProgressMeter, formatSummary } from './report.js';
