/** The Wasm host's public face. It imports nothing from HTTP, SQLite or NATS. */
export { Runtime, type RuntimeOptions, type LoadOptions } from './runtime.js';
export { GuestModule, type CallReport, type HttpCallResult, type Trigger } from './guest-module.js';
export { ModuleLoadError, GuestCallError, type ModuleLoadErrorCode, type GuestCallErrorCode } from './errors.js';
export {
  TrustedKeys,
  signModule,
  verifyBundle,
  generateSigningKey,
  keyId,
  parsePublicKey,
  sha256Hex,
  canonicalJson,
  type Manifest,
  type ModuleBundle,
  type SignatureFile,
  type ModuleLimits,
} from './manifest.js';
export type { GuestHttpRequest, GuestHttpResponse } from './envelope.js';
export { StoreUnavailableError, type GuestStore, type StoredEvent, type AppendOutcome } from './store.js';
export { MemoryStore } from './memory-store.js';
export { RETENTION_CLASSES, retentionProblem, type RetentionClass, type RetentionRule } from './retention-rules.js';
export { DEFAULT_FUEL_PER_MS, DEFAULT_BACKSTOP_FACTOR, type CallLimit } from './fuel.js';
export { ABI_VERSION, ABI_ERROR, CAPABILITIES, LIMITS, DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_CAP_BYTES, type Capability, type PrincipalKind } from './abi.js';
