/**
 * Host ABI v1 as the Worker implements it (docs/abi.md). The node declares the contract in
 * src/runtime/abi.ts; a Worker cannot import TypeScript, so this is a copy, and
 * test/workerd/abi-agreement.test.ts fails, naming the constant, when the two disagree.
 */

export const ABI_VERSION = 1;

/** Import name to the capability it needs (module `ea`). */
export const IMPORT_CAPABILITY = {
  log: 'log',
  clock_now_ms: 'clock',
  config_get: 'config',
  kv_get: 'kv',
  kv_put: 'kv',
  kv_delete: 'kv',
  kv_list: 'kv',
  event_append: 'events',
  metric_add: 'metrics',
};

export const ABI_ERROR = {
  NOT_FOUND: -1,
  DENIED: -2,
  OUT_OF_BOUNDS: -3,
  TOO_LARGE: -4,
  INVALID: -5,
  UNAVAILABLE: -6,
  QUOTA: -7,
};

export const LIMITS = {
  keyBytes: 512,
  valueBytes: 1024 * 1024,
  partitionBytes: 64,
  sourceBytes: 128,
  payloadBytes: 4096,
  logBytes: 4096,
  configKeyBytes: 128,
  metricNameBytes: 64,
  metricNames: 64,
  eventsPerCall: 100_000,
  eventsPerFold: 10_000,
  hostCallsPerCall: 1_000_000,
  listBufferMin: 2 + 512,
};

export const PRINCIPAL_KIND = { anonymous: 0, device: 1, gateway: 2, read: 3, admin: 4 };

export const HTTP_METHOD = { GET: 1, POST: 2, PUT: 3, DELETE: 4, HEAD: 5 };

export const APPEND_RESULT = { new: 0, duplicate: 1, conflict: 2 };

export const LOG_LEVEL = { debug: 0, info: 1, warn: 2, error: 3 };
