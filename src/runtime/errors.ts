/**
 * The runtime's failures. Each has a stable `code` (documented in docs/abi.md) that the HTTP layer
 * and the metrics use as is; messages say what to do about it.
 */
import type { CallLimit } from './fuel.js';

export type ModuleLoadErrorCode =
  | 'unsigned'
  | 'untrusted_key'
  | 'bad_signature'
  | 'hash_mismatch'
  | 'abi_mismatch'
  | 'invalid_manifest'
  | 'invalid_module'
  | 'unsupported_feature'
  | 'import_not_allowed'
  | 'capability_not_declared'
  | 'capability_not_granted'
  | 'memory_unbounded'
  | 'memory_over_cap'
  | 'memory_missing'
  | 'table_unbounded'
  | 'missing_export';

const LOAD_FIXES: Record<ModuleLoadErrorCode, string> = {
  unsigned: 'sign the module with `edgeagg sign`',
  untrusted_key: "add the signer's public key to the node's trusted keys, or sign with a trusted key",
  bad_signature: 'the manifest changed after it was signed: sign it again',
  hash_mismatch: 'the module bytes changed after they were signed: rebuild and sign again',
  abi_mismatch: 'build the guest against ABI version 1',
  invalid_manifest: 'see docs/abi.md, "Manifest and signature"',
  invalid_module: 'check the build: the bytes are not a valid WebAssembly module',
  unsupported_feature: 'build without threads, exception handling, tail calls, GC or memory64',
  import_not_allowed: 'import only the `ea` functions listed in docs/abi.md, with their exact signatures',
  capability_not_declared: "add the capability to the manifest's `capabilities`",
  capability_not_granted: 'grant the capability when you deploy (`--grant`), or build the module without it',
  memory_unbounded: 'declare a maximum memory size (AssemblyScript: --maximumMemory)',
  memory_over_cap: "lower the memory maximum to the manifest's and the node's cap",
  memory_missing: 'define exactly one memory and export it as `memory`',
  table_unbounded: 'declare a table maximum of at most 100,000 entries',
  missing_export: 'export `ea_alloc` and at least one trigger (`ea_on_http`, `ea_on_events`)',
};

/** A module was refused at load. */
export class ModuleLoadError extends Error {
  override name = 'ModuleLoadError';
  constructor(
    readonly code: ModuleLoadErrorCode,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}; fix: ${LOAD_FIXES[code]}`, options);
  }
}

export type GuestCallErrorCode =
  | 'deadline_exceeded'
  | 'guest_trap'
  | 'stack_overflow'
  | 'guest_bad_response'
  | 'guest_refused'
  | 'store_unavailable';

/** A call into a guest failed; none of its writes were kept. */
export class GuestCallError extends Error {
  override name = 'GuestCallError';
  constructor(
    readonly code: GuestCallErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      /** For `store_unavailable`: the store's own code (`disk_full`, `store_busy`, ...). */
      storeCode?: string;
      /** For `deadline_exceeded`: the limit that stopped the call, its fuel or the wall-clock backstop. */
      limit?: CallLimit;
    },
  ) {
    super(message, options);
    this.storeCode = options?.storeCode;
    this.limit = options?.limit;
  }
  readonly storeCode: string | undefined;
  readonly limit: CallLimit | undefined;
}
