/** The loader refuses every module it must refuse, each with its own code and a fix. */
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  ModuleLoadError,
  Runtime,
  generateSigningKey,
  sha256Hex,
  signModule,
  type ModuleBundle,
} from '../../src/runtime/index.js';
import { signedMessage, type Manifest } from '../../src/runtime/manifest.js';
import { sign, createPrivateKey } from 'node:crypto';
import { rejectionOf } from '../helpers/errors.js';
import { testKey, wat } from '../helpers/guests.js';

const GUEST = wat(`(module
  (import "ea" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 2)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (i32.store (i32.const 0) (i32.const 4))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))`);

const MANIFEST = { name: 'logger', version: '1.0.0', limits: {}, capabilities: ['log' as const] };

function runtime(): Runtime {
  return new Runtime({ store: new MemoryStore(), trustedKeys: [testKey.publicKeyPem] });
}

function bundle(wasm = GUEST, manifest = MANIFEST, key = testKey.privateKeyPem): ModuleBundle {
  return { wasm, signatureFile: signModule(wasm, manifest, key) };
}

async function refusal(b: ModuleBundle): Promise<ModuleLoadError> {
  const error = await rejectionOf(runtime().load(b));
  expect(error).toBeInstanceOf(ModuleLoadError);
  return error as ModuleLoadError;
}

/** Signs an arbitrary manifest, bypassing signModule's checks, as an attacker or old tool might. */
function rawSign(manifest: Manifest): ModuleBundle['signatureFile'] {
  const value = sign(null, signedMessage(manifest), createPrivateKey(testKey.privateKeyPem)).toString('base64');
  return { manifest, signature: { alg: 'Ed25519', key_id: signModule(GUEST, MANIFEST, testKey.privateKeyPem).signature!.key_id, value } };
}

describe('module loading', () => {
  it('loads a module signed by a trusted key', async () => {
    const mod = await runtime().load(bundle(), { grants: ['log'] });
    expect(mod.name).toBe('logger');
    expect(mod.namespace).toBe('logger@1.0.0');
    expect(mod.invokeHttp({ method: 'GET', path: '/', query: '', contentType: '', principal: { kind: 'anonymous', subject: '' }, body: new Uint8Array() }).status).toBe(200);
  });

  it('unsigned: no signature file', async () => {
    expect((await refusal({ wasm: GUEST, signatureFile: undefined })).code).toBe('unsigned');
  });

  it('unsigned: a manifest without a signature', async () => {
    const { manifest } = signModule(GUEST, MANIFEST, testKey.privateKeyPem);
    expect((await refusal({ wasm: GUEST, signatureFile: { manifest } })).code).toBe('unsigned');
  });

  it('untrusted_key: signed by a key the node does not trust', async () => {
    const stranger = generateSigningKey();
    expect((await refusal(bundle(GUEST, MANIFEST, stranger.privateKeyPem))).code).toBe('untrusted_key');
  });

  it('bad_signature: the manifest was changed after signing', async () => {
    const b = bundle();
    const file = b.signatureFile as { manifest: Manifest };
    file.manifest.capabilities = ['log', 'kv'];
    expect((await refusal(b)).code).toBe('bad_signature');
  });

  it('bad_signature: the signature bytes were changed', async () => {
    const b = bundle();
    const file = b.signatureFile as { signature: { value: string } };
    const bytes = Buffer.from(file.signature.value, 'base64');
    bytes[0]! ^= 1;
    file.signature.value = bytes.toString('base64');
    expect((await refusal(b)).code).toBe('bad_signature');
  });

  it('hash_mismatch: the module bytes were changed after signing', async () => {
    const b = bundle();
    const tampered = GUEST.slice();
    tampered[tampered.length - 2]! ^= 0xff;
    expect((await refusal({ wasm: tampered, signatureFile: b.signatureFile })).code).toBe('hash_mismatch');
  });

  it('abi_mismatch: built for another ABI version', async () => {
    const manifest: Manifest = { ...MANIFEST, abi: 2, sha256: sha256Hex(GUEST) };
    expect((await refusal({ wasm: GUEST, signatureFile: rawSign(manifest) })).code).toBe('abi_mismatch');
  });

  it('invalid_manifest: a malformed field, even when signed', async () => {
    const manifest = { ...MANIFEST, name: 'Not A Name', abi: 1, sha256: sha256Hex(GUEST) } as Manifest;
    expect((await refusal({ wasm: GUEST, signatureFile: rawSign(manifest) })).code).toBe('invalid_manifest');
  });

  it('invalid_module: bytes that are not WebAssembly', async () => {
    const junk = new TextEncoder().encode('this is not wasm');
    expect((await refusal(bundle(junk))).code).toBe('invalid_module');
  });

  it('missing_export: no ea_alloc', async () => {
    const wasm = wat(`(module (memory (export "memory") 1 1)
      (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))`);
    expect((await refusal(bundle(wasm))).code).toBe('missing_export');
  });

  it('missing_export: no trigger', async () => {
    const wasm = wat(`(module (memory (export "memory") 1 1)
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 0)))`);
    expect((await refusal(bundle(wasm))).code).toBe('missing_export');
  });

  it('memory_missing: memory not exported', async () => {
    const wasm = wat(`(module (memory 1 1)
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))`);
    expect((await refusal(bundle(wasm))).code).toBe('memory_missing');
  });

  it('import_not_allowed: an imported memory', async () => {
    const wasm = wat(`(module (import "env" "memory" (memory 1 1)) (export "memory" (memory 0))
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))`);
    expect((await refusal(bundle(wasm))).code).toBe('import_not_allowed');
  });

  it('table_unbounded: a table without a maximum', async () => {
    const wasm = wat(`(module (memory (export "memory") 1 1) (table 1 funcref)
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))`);
    expect((await refusal(bundle(wasm))).code).toBe('table_unbounded');
  });

  it('unsupported_feature: shared memory', async () => {
    const wasm = wat(`(module (memory (export "memory") 1 1 shared)
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))`, { threads: true });
    expect((await refusal(bundle(wasm))).code).toBe('unsupported_feature');
  });

  it('compiles each module once, however often it is loaded', async () => {
    const rt = runtime();
    const b = bundle();
    const [a, c] = await Promise.all([rt.load(b), rt.load(b)]);
    expect(a.info).toBe(c.info);
  });
});
