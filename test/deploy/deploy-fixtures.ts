/**
 * Fixtures of the deployment tests: modules signed with a test key the node trusts (its data directory's
 * `trusted-keys/`), the faulty aggregator compiled once per process, and a deploy call.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signModule, type Capability, type SignatureFile } from '../../src/runtime/index.js';
import { ROOT, builtGuest, testKey } from '../helpers/guests.js';
import type { NodeProcess } from '../helpers/node-process.js';

export const AGGREGATOR_CAPABILITIES: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];

/** A data directory that trusts the test key (before the node starts). */
export function trustingDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-deploy-'));
  mkdirSync(join(dir, 'trusted-keys'), { recursive: true });
  writeFileSync(join(dir, 'trusted-keys', 'test.pem'), testKey.publicKeyPem);
  return dir;
}

export interface SignedModule {
  wasm: Uint8Array;
  signature: SignatureFile;
}

export function signed(wasm: Uint8Array, name: string, version: string, options: { release?: number; capabilities?: Capability[] } = {}): SignedModule {
  const signature = signModule(wasm, { name, version, limits: { memory_bytes: 16 * 1024 * 1024, deadline_ms: 250 }, capabilities: options.capabilities ?? AGGREGATOR_CAPABILITIES, release: options.release }, testKey.privateKeyPem);
  return { wasm, signature };
}

/** The aggregator as built, signed as another version of the `aggregator` app. */
export function aggregatorVersion(version: string, release?: number): SignedModule {
  return signed(builtGuest('aggregator'), 'aggregator', version, { release });
}

let faulty: Promise<Uint8Array> | undefined;

/** guests/test-faulty-aggregator: answers reads like the aggregator, traps on every write. */
export function faultyAggregator(): Promise<Uint8Array> {
  faulty ??= (async () => {
    const { compileGuest } = (await import(join(ROOT, 'scripts', 'build-guests.mjs'))) as { compileGuest: (name: string, out: string) => Promise<void> };
    const out = join(mkdtempSync(join(tmpdir(), 'edgeagg-faulty-')), 'faulty.wasm');
    await compileGuest('test-faulty-aggregator', out);
    return new Uint8Array(readFileSync(out));
  })();
  return faulty;
}

export interface DeployBody {
  canary_percent?: number;
  stages_percent?: number[];
  grants?: Capability[];
  config?: Record<string, string>;
  state?: 'rebuild' | 'carry';
  allow_downgrade?: boolean;
  fleet?: boolean;
}

/** POST /v1/deployments with the module and its signature file. */
export function deploy(node: NodeProcess, token: string, module: SignedModule, body: DeployBody = {}): Promise<Response> {
  return node.fetch('/v1/deployments', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ module_base64: Buffer.from(module.wasm).toString('base64'), signature: module.signature, ...body }),
  });
}

export interface AppView {
  app: string;
  stable: { version: string; traffic_percent: number } | null;
  canary: { version: string; traffic_percent: number; health: { calls: number; errors: number } | null } | null;
  building: { version: string; progress: { phase: string; done: number; total: number } | null } | null;
  rolled_back: { version: string; reason: string } | null;
  highest_release: number;
  versions: Array<{ version: string; sha256: string; release: number }>;
  history: Array<{ actor: string; action: string; version: string; detail: string }>;
}

export async function deployments(node: NodeProcess, token: string): Promise<AppView[]> {
  const res = await node.fetch('/v1/deployments', { token });
  if (res.status !== 200) throw new Error(`GET /v1/deployments: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { apps: AppView[] }).apps;
}

export async function appView(node: NodeProcess, token: string, app: string): Promise<AppView | undefined> {
  return (await deployments(node, token)).find((a) => a.app === app);
}
