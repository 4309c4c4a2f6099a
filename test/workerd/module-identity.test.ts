/**
 * The Worker runs the signed aggregator unchanged: the bundle holds the very bytes `npm run build:guests`
 * signed (same sha256) as a compiled module import, and the bundle script, which checks the signature at
 * build time in place of the node's loader, refuses a changed or untrusted module.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex, signModule } from '../../src/runtime/index.js';
import { ROOT, testKey } from '../helpers/guests.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { bundleWorker, runBundle } from './worker-harness.js';

const BUILT = join(ROOT, 'build', 'guests', 'aggregator.wasm');
const signed = JSON.parse(readFileSync(`${BUILT}.sig.json`, 'utf8')) as { manifest: { sha256: string; name: string; version: string } };

describe('the bundled module', () => {
  it('has the sha256 of the signed build output, and the Worker imports it as a module', () => {
    const out = tempDir('workerd-bundle');
    bundleWorker(out);
    const bundled = readFileSync(join(out, 'aggregator.wasm'));
    expect(sha256Hex(bundled)).toBe(signed.manifest.sha256);
    expect(sha256Hex(readFileSync(BUILT))).toBe(signed.manifest.sha256);
    expect(readFileSync(join(out, 'manifest.js'), 'utf8')).toContain(`"sha256": "${signed.manifest.sha256}"`);
    // A static import of the .wasm file: workerd compiles it at load (it refuses WebAssembly.compile of bytes).
    const object = readFileSync(join(out, 'aggregator-object.js'), 'utf8');
    expect(object).toMatch(/^import \w+ from '\.\/aggregator\.wasm';$/m);
    expect(object).not.toMatch(/WebAssembly\.(compile|instantiate)\(|new WebAssembly\.Module\(/);
  });
});

describe('the bundle script checks the signature at build time', () => {
  function moduleCopy(wasm: Uint8Array, signatureFile: unknown): string {
    const dir = tempDir('workerd-module');
    const path = join(dir, 'aggregator.wasm');
    writeFileSync(path, wasm);
    writeFileSync(`${path}.sig.json`, JSON.stringify(signatureFile));
    return path;
  }

  it('refuses a module changed after signing (hash_mismatch) and writes nothing', () => {
    const wasm = new Uint8Array(readFileSync(BUILT));
    wasm[wasm.length - 1] = wasm[wasm.length - 1]! ^ 0xff;
    const out = join(tempDir('workerd-bundle'), 'dist');
    const run = runBundle(['--module', moduleCopy(wasm, signed), '--out', out]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('hash_mismatch');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a module without a signature file (unsigned)', () => {
    const dir = tempDir('workerd-module');
    copyFileSync(BUILT, join(dir, 'aggregator.wasm'));
    const run = runBundle(['--module', join(dir, 'aggregator.wasm'), '--out', join(dir, 'dist')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('unsigned');
  });

  it('refuses a module signed by a key it does not trust, and takes it with --trusted-key', () => {
    const wasm = new Uint8Array(readFileSync(BUILT));
    const signature = signModule(wasm, { name: 'aggregator', version: '9.9.9', limits: {}, capabilities: ['clock', 'config', 'events', 'kv', 'log', 'metrics'] }, testKey.privateKeyPem);
    const path = moduleCopy(wasm, signature);
    const out = join(tempDir('workerd-bundle'), 'dist');
    const refused = runBundle(['--module', path, '--out', out]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('untrusted_key');
    const keyFile = join(tempDir('workerd-key'), 'key.pub.pem');
    writeFileSync(keyFile, testKey.publicKeyPem);
    const taken = runBundle(['--module', path, '--out', out, '--trusted-key', keyFile]);
    expect(taken.status, taken.stderr).toBe(0);
    expect(readFileSync(join(out, 'manifest.js'), 'utf8')).toContain('"version": "9.9.9"');
  });
});
