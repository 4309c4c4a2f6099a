/**
 * The aggregator Worker under Miniflare for tests: bundled by adapters/workerd/bundle.mjs into a temporary
 * directory (never into the source tree), run by a real workerd on loopback, disposed by the test.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from '../helpers/guests.js';

export const BUNDLE_SCRIPT = join(ROOT, 'adapters', 'workerd', 'bundle.mjs');
const WRANGLER_TOML = readFileSync(join(ROOT, 'adapters', 'workerd', 'wrangler.toml'), 'utf8');

/** A string setting of wrangler.toml (`name = "value"`), so the tests run what a deploy would. */
export function wranglerSetting(name: string): string {
  const m = new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(WRANGLER_TOML);
  if (!m) throw new Error(`wrangler.toml has no ${name}`);
  return m[1]!;
}

export interface BundleRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle script with `args` (e.g. `--out DIR`). */
export function runBundle(args: string[]): BundleRun {
  const run = spawnSync(process.execPath, [BUNDLE_SCRIPT, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Bundles the built, signed aggregator into `dir`; throws with the script's output when it refuses. */
export function bundleWorker(dir: string): void {
  const run = runBundle(['--out', dir]);
  if (run.status !== 0) throw new Error(`bundle.mjs exited with ${run.status}:\n${run.stdout}\n${run.stderr}`);
}

export interface WorkerUnderTest {
  /** `http://127.0.0.1:<port>/`, workerd's loopback address. */
  url: string;
  dispose(): Promise<void>;
}

/** Starts the bundle in `dir` with these Worker variables (wrangler.toml `[vars]`). */
export async function startWorker(dir: string, vars: Record<string, string>): Promise<WorkerUnderTest> {
  const mf = new Miniflare({
    host: '127.0.0.1',
    modules: true,
    modulesRoot: dir,
    scriptPath: join(dir, 'worker.js'),
    // .js files are ES modules (wrangler's default), .wasm files compiled module imports (wrangler.toml's rule).
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: wranglerSetting('compatibility_date'),
    durableObjects: { AGGREGATOR: { className: wranglerSetting('class_name'), useSQLite: true } },
    bindings: vars,
  });
  const url = await mf.ready;
  return { url: url.toString(), dispose: () => mf.dispose() };
}
