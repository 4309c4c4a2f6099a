/**
 * Host ABI v1: the one declaration of the contract between host and guest (docs/abi.md).
 * The loader checks imports against IMPORTS, and host-imports.ts implements exactly these functions,
 * typed by {@link HostImports} so the two cannot drift.
 *
 * The AssemblyScript SDK cannot import this file, so guests/sdk/abi.ts (with host.ts and http.ts beside it)
 * declares the same imports and constants again; test/abi/abi-agreement.test.ts fails, naming the constant,
 * when the two disagree. Change both together.
 */

export const ABI_VERSION = 1;
export const ABI_MODULE = 'ea';

export const CAPABILITIES = ['log', 'clock', 'config', 'kv', 'events', 'metrics'] as const;
export type Capability = (typeof CAPABILITIES)[number];

type ValType = 'i32' | 'f64';

interface ImportSignature {
  params: readonly ValType[];
  results: readonly ValType[];
  capability: Capability;
}

export const IMPORTS = {
  log: { params: ['i32', 'i32', 'i32'], results: ['i32'], capability: 'log' },
  clock_now_ms: { params: [], results: ['f64'], capability: 'clock' },
  config_get: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'], capability: 'config' },
  kv_get: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'], capability: 'kv' },
  kv_put: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'], capability: 'kv' },
  kv_delete: { params: ['i32', 'i32'], results: ['i32'], capability: 'kv' },
  kv_list: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'], capability: 'kv' },
  event_append: {
    params: ['i32', 'i32', 'i32', 'i32', 'f64', 'i32', 'i32'],
    results: ['i32'],
    capability: 'events',
  },
  metric_add: { params: ['i32', 'i32', 'f64'], results: ['i32'], capability: 'metrics' },
} as const satisfies Record<string, ImportSignature>;

export type ImportName = keyof typeof IMPORTS;

type JsType<T extends ValType> = T extends 'i32' | 'f64' ? number : never;
type JsParams<P extends readonly ValType[]> = { [K in keyof P]: P[K] extends ValType ? JsType<P[K]> : never };

/** The host side of every import, typed from IMPORTS. */
export type HostImports = {
  [N in ImportName]: (...args: JsParams<(typeof IMPORTS)[N]['params']>) => number;
};

/** The closed set of error codes every import can return (docs/abi.md, "Error codes"). */
export const ABI_ERROR = {
  NOT_FOUND: -1,
  DENIED: -2,
  OUT_OF_BOUNDS: -3,
  TOO_LARGE: -4,
  INVALID: -5,
  UNAVAILABLE: -6,
  QUOTA: -7,
} as const;

export const EXPORTS = {
  memory: 'memory',
  alloc: 'ea_alloc',
  onHttp: 'ea_on_http',
  onEvents: 'ea_on_events',
} as const;

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
  /** Events handed to one `ea_on_events` call; the host splits larger sets. */
  eventsPerFold: 10_000,
  hostCallsPerCall: 1_000_000,
  /** The smallest kv_list output buffer: one key of the largest size and its length prefix. */
  listBufferMin: 2 + 512,
  tableEntries: 100_000,
} as const;

/** The node's memory cap; a manifest may ask for less, never more. */
export const DEFAULT_MEMORY_CAP_BYTES = 64 * 1024 * 1024;
/** The deadline of a module whose manifest names none. */
export const DEFAULT_DEADLINE_MS = 50;
/** The node's cap on any module's deadline. */
export const DEFAULT_MAX_DEADLINE_MS = 1000;

export const PRINCIPAL_KIND = { anonymous: 0, device: 1, gateway: 2, read: 3, admin: 4 } as const;
export type PrincipalKind = keyof typeof PRINCIPAL_KIND;

export const HTTP_METHOD: Record<string, number> = { GET: 1, POST: 2, PUT: 3, DELETE: 4, HEAD: 5 };

export const APPEND_RESULT = { new: 0, duplicate: 1, conflict: 2 } as const;

/** The levels the `log` import takes; any other level is INVALID. */
export const LOG_LEVEL = { debug: 0, info: 1, warn: 2, error: 3 } as const;
