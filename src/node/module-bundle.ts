/** Where the node finds the aggregator it runs by default, and the keys module signatures are checked against. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Settings } from './settings.js';

/** The package root: where `build/guests` and `package.json` are. */
export const PACKAGE_ROOT = findPackageRoot();
export const BUILT_GUESTS = join(PACKAGE_ROOT, 'build', 'guests');
const DEFAULT_MODULE = join(BUILT_GUESTS, 'aggregator.wasm');
/** The public key the build signs guests with (scripts/build-guests.mjs). */
const BUILD_KEY = join(BUILT_GUESTS, 'build-key.pub.pem');

/** A module and its detached signature, as the loader takes them. */
export interface ModuleBundle {
  wasm: Uint8Array;
  signatureFile: unknown;
}

/** The module `--module` names, or the aggregator built with the package. */
export function readModuleBundle(settings: Settings): ModuleBundle {
  const modulePath = settings.module ? resolve(settings.module) : DEFAULT_MODULE;
  if (!existsSync(modulePath)) {
    throw new Error(`no module at ${modulePath}: run \`npm run build\` to build the aggregator, or pass --module`);
  }
  const sigPath = `${modulePath}.sig.json`;
  return {
    wasm: readFileSync(modulePath),
    signatureFile: existsSync(sigPath) ? JSON.parse(readFileSync(sigPath, 'utf8')) : undefined,
  };
}

/** PEM keys whose module signatures are trusted: `--trusted-keys`, the build key, and `<data-dir>/trusted-keys/*.pem`. */
export function trustedModuleKeys(settings: Settings): string[] {
  const keys = settings['trusted-keys'].map((f) => readFileSync(f, 'utf8'));
  if (existsSync(BUILD_KEY)) keys.push(readFileSync(BUILD_KEY, 'utf8'));
  const dir = join(resolve(settings['data-dir']), 'trusted-keys');
  if (existsSync(dir)) for (const f of readdirSync(dir).filter((n) => n.endsWith('.pem'))) keys.push(readFileSync(join(dir, f), 'utf8'));
  return keys;
}

/** `service.version` in telemetry: the package's version. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Walks up from this file: it runs from src/ in tests and from dist/src/ when built. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}
