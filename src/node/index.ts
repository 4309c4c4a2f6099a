/** The node: its settings and the composition root that wires every part together. */
export { EdgeNode, type EdgeNodeOptions } from './edge-node.js';
export { SETTINGS, SettingsError, envName, resolveSettings, type SettingName, type Settings } from './settings.js';
export { BUILT_GUESTS, PACKAGE_ROOT, packageVersion } from './module-bundle.js';
export { readModuleBundle, trustedModuleKeys } from './module-bundle.js';
export { RetentionScheduler, pruneRules, retentionPolicy, type DiskBudget, type DiskBudgetState, type RetentionPassReport, type RetentionPolicy, type RetentionSchedulerOptions } from './maintenance.js';
export { createBackup, BackupError, type CreateBackupOptions, type CreatedBackup } from './backup-create.js';
export { restoreBackup, type RestoreBackupOptions, type RestoredBackup } from './backup-restore.js';
export { BackupArchiveError, readManifest as readBackupManifest, type BackupManifest, type BackupMember } from './backup-format.js';
