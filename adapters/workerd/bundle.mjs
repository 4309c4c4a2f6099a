#!/usr/bin/env node
// Bundles the Worker: checks the signed module's signature and hash against trusted keys (workerd cannot
// run our loader, so the check happens here, at build time), then copies the Worker's sources, the
// module's bytes unchanged as aggregator.wasm, and its signed manifest as manifest.js into one directory
// that wrangler deploys or Miniflare runs. Needs the node built (`npm run build`): the check is the node's.
//
//   node adapters/workerd/bundle.mjs [--out DIR] [--module FILE.wasm] [--trusted-key KEY.pem ...]
//
// Defaults: --out adapters/workerd/dist, --module build/guests/aggregator.wasm, trusted: the build key.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '..', '..');
const runtimeIndex = join(root, 'dist', 'src', 'runtime', 'index.js');

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(here, 'dist') },
    module: { type: 'string', default: join(root, 'build', 'guests', 'aggregator.wasm') },
    'trusted-key': { type: 'string', multiple: true, default: [] },
  },
});

function fail(message) {
  console.error(`bundle: ${message}`);
  process.exit(1);
}

if (!existsSync(runtimeIndex)) fail('the node is not built: run `npm run build` first');
const { TrustedKeys, verifyBundle, sha256Hex } = await import(runtimeIndex);

const modulePath = resolve(values.module);
const sigPath = `${modulePath}.sig.json`;
if (!existsSync(modulePath)) fail(`no module at ${modulePath}: run \`npm run build\``);
const wasm = readFileSync(modulePath);
const signatureFile = existsSync(sigPath) ? JSON.parse(readFileSync(sigPath, 'utf8')) : undefined;

const buildKey = join(root, 'build', 'guests', 'build-key.pub.pem');
const keys = values['trusted-key'].map((f) => readFileSync(f, 'utf8'));
if (existsSync(buildKey)) keys.push(readFileSync(buildKey, 'utf8'));

let manifest;
try {
  manifest = verifyBundle({ wasm, signatureFile }, new TrustedKeys(keys));
} catch (error) {
  fail(`refused ${modulePath}: ${error.code ?? 'error'}: ${error.message}`);
}

const out = resolve(values.out);
mkdirSync(out, { recursive: true });
for (const file of readdirSync(join(here, 'src')).filter((f) => f.endsWith('.js'))) copyFileSync(join(here, 'src', file), join(out, file));
writeFileSync(join(out, 'aggregator.wasm'), wasm);
writeFileSync(join(out, 'manifest.js'), `// The signed manifest of aggregator.wasm, checked by bundle.mjs.\nexport const MANIFEST = ${JSON.stringify(manifest, null, 2)};\n`);
console.log(`bundled ${manifest.name}@${manifest.version} (sha256 ${sha256Hex(wasm)}) into ${out}`);
