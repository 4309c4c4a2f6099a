/**
 * Which version of an app serves a call, and what happens when a canary fails it.
 *
 * - A request from a device (a device token or certificate) goes to the canary when the device is in the
 *   canary's share, else to the stable version; a request without a device goes to the stable version.
 * - A batch from a gateway whose items belong to devices on both sides is split (when the app knows how:
 *   a {@link BatchSplitter}), each part answered by its version, and the answers merged back in item order.
 * - A canary call that fails with a guest error (a trap, its deadline, its memory cap) has undone its writes;
 *   it is counted against the canary and the request is answered by the stable version instead, so a bad
 *   canary costs its users nothing while the node decides to roll it back.
 */
import { GuestCallError, type GuestHttpRequest, type GuestModule, type HttpCallResult } from '../runtime/index.js';
import { isStoreFailure } from '../resilience/index.js';

/** What the routes need of the app's live versions (src/deploy's LiveVersions). */
export interface AppVersions {
  readonly app: string;
  stable(): GuestModule;
  canaryFor(deviceId: string): GuestModule | undefined;
  observe(module: GuestModule, failed: boolean, latencyMs: number): void;
}

/** An app's own way of splitting a batch by device and merging the answers (the aggregator's readings). */
export interface BatchSplitter {
  /**
   * The items for each side; `'canary'` when every item is the canary's (it answers the whole request); undefined
   * when the body is not a batch it can split, or every item is the stable version's.
   */
  split(request: GuestHttpRequest, isCanary: (deviceId: string) => boolean): SplitBatch | 'canary' | undefined;
  /** One answer from the two, in item order; undefined when the answers cannot be merged. */
  merge(stable: HttpCallResult, canary: HttpCallResult, split: SplitBatch): { status: number; contentType: string; body: Uint8Array } | undefined;
}

export interface SplitBatch {
  stable: GuestHttpRequest;
  canary: GuestHttpRequest;
  /** For each item of the original batch, in order: true when the canary has it. */
  sides: boolean[];
}

/** A guest's answer and the versions that made it (the `x-edgeagg-version` header). */
export interface RoutedResult extends HttpCallResult {
  servedBy: string[];
}

/** Runs the calls of a split batch as one unit: both parts are kept or neither is. */
export type Atomically = <T>(fn: () => T) => T;

/** The call that answers `request`: run inside the write path's transaction (or the read's fold). */
export function routedCall(versions: AppVersions, deviceId: string | undefined, atomically: Atomically, splitter?: BatchSplitter): (request: GuestHttpRequest) => RoutedResult {
  return (request) => {
    const stable = versions.stable();
    if (deviceId !== undefined) {
      const canary = versions.canaryFor(deviceId);
      return canary ? canaryCall(versions, canary, stable, request) : timedCall(versions, stable, request);
    }
    let canary: GuestModule | undefined;
    const split = splitter?.split(request, (d) => {
      const c = versions.canaryFor(d);
      canary ??= c;
      return c !== undefined;
    });
    if (!split || !canary) return timedCall(versions, stable, request);
    if (split === 'canary') return canaryCall(versions, canary, stable, request);
    const chosen = canary;
    try {
      return atomically(() => {
        const s = timedCall(versions, stable, split.stable);
        const c = canaryCall(versions, chosen, stable, split.canary);
        const merged = splitter!.merge(s, c, split);
        if (!merged) throw new Unmergeable();
        return { ...merged, newEvents: [...s.newEvents, ...c.newEvents], servedBy: [...new Set([...s.servedBy, ...c.servedBy])] };
      });
    } catch (error) {
      if (!(error instanceof Unmergeable)) throw error;
      // Both parts were undone: the whole batch goes to the stable version.
      return timedCall(versions, stable, request);
    }
  };
}

class Unmergeable extends Error {}

function canaryCall(versions: AppVersions, canary: GuestModule, stable: GuestModule, request: GuestHttpRequest): RoutedResult {
  try {
    return timedCall(versions, canary, request);
  } catch (error) {
    if (!isGuestFailure(error)) throw error;
    return timedCall(versions, stable, request);
  }
}

function timedCall(versions: AppVersions, module: GuestModule, request: GuestHttpRequest): RoutedResult {
  const started = performance.now();
  try {
    const result = module.invokeHttp(request);
    versions.observe(module, result.status >= 500, performance.now() - started);
    return { ...result, servedBy: [module.version] };
  } catch (error) {
    versions.observe(module, isGuestFailure(error), performance.now() - started);
    throw error;
  }
}

/** The guest failed the call (not the store, not the host): what counts against a version. */
function isGuestFailure(error: unknown): boolean {
  return error instanceof GuestCallError && !isStoreFailure(error);
}
