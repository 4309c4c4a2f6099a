#!/usr/bin/env node
// Signs every guest built into build/guests with the build key, so that the node (which trusts
// build/guests/build-key.pub.pem) loads them. The private key stays in .keys/ (never committed),
// created on first build; operators who ship their own modules sign them with their own key
// (`edgeagg keygen`, `edgeagg sign`) and pass --trusted-keys. Quiet on success; `--verbose` lists them.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, signModule } from '../dist/src/runtime/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'build', 'guests');
const keyDir = join(root, '.keys');
const privatePath = join(keyDir, 'build.key.pem');
const publicPath = join(keyDir, 'build.pub.pem');

if (!existsSync(privatePath)) {
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  writeFileSync(privatePath, key.privateKeyPem, { mode: 0o600 });
  writeFileSync(publicPath, key.publicKeyPem);
}
const privateKeyPem = readFileSync(privatePath, 'utf8');
writeFileSync(join(out, 'build-key.pub.pem'), readFileSync(publicPath));

const verbose = process.argv.includes('--verbose');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
for (const file of readdirSync(out).filter((f) => f.endsWith('.wasm'))) {
  const name = file.slice(0, -'.wasm'.length);
  const manifestPath = join(root, 'guests', name, 'guest.json');
  // guests/<name>/guest.json: { "version"?, "capabilities": [...], "limits"?: {...}, "retention"?: [...], "release"?: n }
  const declared = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
  const wasm = readFileSync(join(out, file));
  const signatureFile = signModule(
    wasm,
    {
      name,
      version: declared.version ?? version,
      limits: declared.limits ?? {},
      capabilities: declared.capabilities ?? ['clock', 'config', 'events', 'kv', 'log', 'metrics'],
      retention: declared.retention,
      release: declared.release,
    },
    privateKeyPem,
  );
  writeFileSync(join(out, `${file}.sig.json`), `${JSON.stringify(signatureFile, null, 2)}\n`);
  if (verbose) console.log(`signed ${name}@${signatureFile.manifest.version} (${wasm.length} bytes)`);
}
