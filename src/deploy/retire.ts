/**
 * The state of versions that neither serve nor build, deleted in the background: a replaced or rolled-back
 * version's namespace would otherwise keep a whole copy of the app's aggregates on the disk for good (a version
 * switched back to builds its state again anyway, from a cleared namespace). Chunks of 2,000 records, each in its
 * own transaction with a yield between; before each, the version is checked to be still unused, so a build that
 * starts meanwhile (a rollback to it) is never touched.
 */
import type { SqliteStore } from '../store/index.js';
import type { Logger } from '../telemetry/index.js';

export interface RetireOptions {
  store: SqliteStore;
  app: string;
  /** The versions the app's record names now (stable, canary, building). */
  inUse: () => Set<string>;
  /** True once the node stops: what is left is deleted at the next start. */
  stopped: () => boolean;
  logger: Logger;
}

export function retireUnusedVersions(options: RetireOptions): void {
  const { store, app } = options;
  const unused = (ns: string): boolean => !options.inUse().has(ns.slice(app.length + 1));
  const stale = store.retention().namespacesOf(app).filter(unused);
  if (stale.length === 0) return;
  const clear = async (): Promise<void> => {
    for (const ns of stale) {
      while (!options.stopped() && unused(ns) && store.clearNamespace(ns, 2000) > 0) await new Promise((r) => setImmediate(r));
    }
  };
  clear().catch((error: unknown) => options.logger.warn('could not delete the state of a retired version; the next start tries again', { app, error }));
}
