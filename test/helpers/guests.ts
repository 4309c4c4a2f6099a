/**
 * Loading guests in tests through the production path: signed with a per-process key, verified,
 * instrumented and compiled by a real Runtime.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import {
  MemoryStore,
  Runtime,
  generateSigningKey,
  signModule,
  type Capability,
  type GuestModule,
  type GuestStore,
  type RetentionRule,
  type RuntimeOptions,
} from '../../src/runtime/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const testKey = generateSigningKey();
const wabt = await wabtInit();

/** Compiles WebAssembly text to a binary. */
export function wat(source: string, features: Record<string, boolean> = {}): Uint8Array {
  const parsed = wabt.parseWat('guest.wat', source, features);
  try {
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

export function hostileWasm(name: string, features: Record<string, boolean> = {}): Uint8Array {
  return wat(readFileSync(`${ROOT}guests/hostile/${name}.wat`, 'utf8'), features);
}

export function builtGuest(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${ROOT}build/guests/${name}.wasm`));
}

export interface TestGuestOptions extends Partial<Omit<RuntimeOptions, 'store' | 'trustedKeys'>> {
  store?: GuestStore;
  grants?: Capability[];
  capabilities?: Capability[];
  config?: Record<string, string>;
  name?: string;
  version?: string;
  limits?: { memory_bytes?: number; deadline_ms?: number };
  /** The manifest's `retention` field. @default none */
  retention?: RetentionRule[];
  runtime?: Runtime;
}

export function testRuntime(options: TestGuestOptions = {}): Runtime {
  return new Runtime({ ...options, store: options.store ?? new MemoryStore(), trustedKeys: [testKey.publicKeyPem] });
}

/** Signs `wasm` with the test key and loads it. Grants default to every declared capability. */
export async function loadWasm(wasm: Uint8Array, options: TestGuestOptions = {}): Promise<GuestModule> {
  const capabilities = options.capabilities ?? ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
  const signatureFile = signModule(
    wasm,
    { name: options.name ?? 'test-guest', version: options.version ?? '1.0.0', limits: options.limits ?? {}, capabilities, retention: options.retention },
    testKey.privateKeyPem,
  );
  const runtime = options.runtime ?? testRuntime(options);
  return runtime.load({ wasm, signatureFile }, { grants: options.grants ?? capabilities, config: options.config ?? {} });
}

export function loadTestGuest(name: string, options: TestGuestOptions = {}): Promise<GuestModule> {
  return loadWasm(builtGuest(name), { name, ...options });
}

/** A GET request envelope with no body, for guests that ignore the request. */
export function get(path: string, principal: { kind: 'anonymous' | 'device' | 'gateway' | 'read' | 'admin'; subject: string } = { kind: 'anonymous', subject: '' }) {
  const q = path.indexOf('?');
  return {
    method: 'GET',
    path: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    contentType: '',
    principal,
    body: new Uint8Array(0),
  };
}

/** Reads little-endian i32 values from a response body. */
export function i32s(body: Uint8Array): number[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= body.length; i += 4) out.push(view.getInt32(i, true));
  return out;
}
