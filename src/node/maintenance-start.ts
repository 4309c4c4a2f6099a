/** The node's retention scheduler, made from its settings and started with its gauge and its logs. */
import type { Logger, Telemetry } from '../telemetry/index.js';
import { RetentionScheduler, retentionPolicy, type RetainedModule, type RetentionStore } from './maintenance.js';
import type { Settings } from './settings.js';

export interface StartRetentionOptions {
  settings: Settings;
  store: RetentionStore;
  /** The module versions loaded now (every namespace of their modules is pruned). */
  modules: () => Iterable<RetainedModule>;
  telemetry: Telemetry;
  logger: Logger;
}

/** Starts pruning per the `retention-*` and `max-db-size` settings; stop it before closing the store. */
export function startRetention(options: StartRetentionOptions): RetentionScheduler {
  const { settings, logger } = options;
  let reported = 'none';
  const scheduler = new RetentionScheduler({
    store: options.store,
    modules: options.modules,
    policy: retentionPolicy(settings),
    intervalMs: settings['retention-interval-ms'],
    maxDbSizeBytes: settings['max-db-size'],
    fullRoomBytes: settings['body-limit'],
    onPass: (report) => {
      const { state } = report.budget;
      if (state !== reported && (state === 'near' || state === 'full')) {
        logger.warn(state === 'full' ? 'database budget reached: writes are refused (disk_full) until pruning frees space' : 'database near its budget: pruning to the retention times at once', {
          usedBytes: report.budget.usedBytes,
          maxBytes: report.budget.maxBytes,
        });
      } else if (state !== reported && (reported === 'near' || reported === 'full')) {
        logger.info('database back under its budget', { usedBytes: report.budget.usedBytes, maxBytes: report.budget.maxBytes });
      }
      reported = state;
      if (report.eventRows + report.bucketRows > 0) logger.debug('retention pass', { ...report, budget: state });
    },
    onError: (error) => logger.warn('retention pass failed; the next one tries again', { error }),
  });
  options.telemetry.observeDiskBudget(() => scheduler.budget());
  scheduler.start();
  return scheduler;
}
