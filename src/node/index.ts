/** The node: its settings and the composition root that wires every part together. */
export { EdgeNode, type EdgeNodeOptions } from './edge-node.js';
export { SETTINGS, SettingsError, envName, resolveSettings, type SettingName, type Settings } from './settings.js';
export { BUILT_GUESTS, PACKAGE_ROOT, packageVersion } from './module-bundle.js';
