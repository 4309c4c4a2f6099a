#!/usr/bin/env node
// Builds the WebAssembly guests:
//   guests/<name>/index.ts (AssemblyScript, every folder of guests/ but sdk/ and hostile/) -> build/guests/<name>.wasm
//   guests/hostile/<name>.wat (hand-written test fixtures)                                  -> build/test-guests/<name>.wasm
// Test fixtures are kept out of build/guests, which is what the package ships and signs.
//
// AssemblyScript guests are built against guest ABI v1 (docs/abi.md): stub runtime (a bump allocator; the
// host resets memory after every call), one initial 64 KiB page (the host restores the initial memory after
// every call, so it must be small), a memory maximum, no exported runtime, the SDK's abort handler (it logs
// through `ea.log`, so no `env.abort` import), and only the features the ABI allows. Each module's shape is
// checked after compilation (imports, exports, memory, no run-time table/segment changes).
//
// No start function: AssemblyScript's start function sets the allocator's heap offset, but between calls the
// host resets every mutable global to its *declared* initial value (docs/abi.md, "Isolation between calls"),
// which would put the heap back at address 0, over the static data. So the start function is exported as
// `_start` and evaluated at build time by Binaryen's wasm-ctor-eval, which bakes the values it sets into the
// globals' initialisers and removes it.
//
// Work is skipped when an output is newer than all of its inputs. `--force` rebuilds everything. Quiet on
// success; `--verbose` lists every module with its size.
// Usage: node scripts/build-guests.mjs [--force] [--verbose] [name ...]

import { readdir, readFile, stat, mkdir, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GUESTS_DIR = join(ROOT, 'guests');
export const OUT_DIR = join(ROOT, 'build', 'guests');
export const TEST_OUT_DIR = join(ROOT, 'build', 'test-guests');
const SCRIPT = fileURLToPath(import.meta.url);

/** Pages of 64 KiB. */
export const INITIAL_PAGES = 1;
// Pages a guest starts with. The host restores them after every call (a copy of this size: ~1 µs per
// 128 KiB here), and a call that grows memory costs a fresh instance for the next one (instantiation, and
// the dead instance's memory until the next garbage collection). The aggregator's fold of a commit group
// of ~1,600 readings (16 batches of 100) needs about three pages: with two, every such group made a new
// instance (5% of the CPU and ~10 MiB of resident memory in the batch benchmark); with four, none.
const INITIAL_PAGES_OF = { aggregator: 4 };
function initialPages(name) {
  return INITIAL_PAGES_OF[name] ?? INITIAL_PAGES;
}
export const MAXIMUM_PAGES = 256; // 16 MiB

/**
 * Optimisation per guest, measured (module size; guest time for a 10,000-reading batch, warm, without host
 * costs):
 *   aggregator  -O3 54.8 KB 3.9 ms | -O3s 48.0 KB 4.3 ms | -Oz 47.4 KB 4.9 ms
 *   example     -O3 18.6 KB        | -O3s 15.5 KB        | -Oz 15.3 KB   (target <= 16 KB)
 * -O3s keeps the aggregator within about 10% of the fastest build at 88% of its size (the host's share of a
 * call is several times the guest's anyway); the example, which is not speed-critical, is built for size.
 */
const OPTIMIZE = {
  default: ['-O3s', '--converge'],
  example: ['-Oz', '--converge'],
};

/** Compiler flags for an AssemblyScript guest. */
export function ascFlags(name) {
  return [
    '--runtime', 'stub',
    ...(OPTIMIZE[name] ?? OPTIMIZE.default),
    '--initialMemory', String(initialPages(name)),
    '--maximumMemory', String(MAXIMUM_PAGES),
    // The SDK's abort handler: logs the message with ea.log, then traps (no env.abort import).
    '--use', 'abort=guests/sdk/abort/guestAbort',
    '--noColors',
  ];
}

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

async function listFiles(dir, ext) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p, ext)));
    else if (entry.name.endsWith(ext)) out.push(p);
  }
  return out;
}

/** The AssemblyScript guests: folders of guests/ with an index.ts, except the SDK. */
export async function listGuests() {
  const names = [];
  for (const entry of await readdir(GUESTS_DIR, { withFileTypes: true })) {
    // test-* guests are fixtures a test compiles itself (compileGuest), not part of the build.
    if (!entry.isDirectory() || entry.name === 'sdk' || entry.name === 'hostile' || entry.name.startsWith('test-')) continue;
    if (existsSync(join(GUESTS_DIR, entry.name, 'index.ts'))) names.push(entry.name);
  }
  return names.sort();
}

/** Whether `output` is newer than every input. */
async function upToDate(output, inputs) {
  const out = await mtime(output);
  if (out < 0) return false;
  for (const input of inputs) {
    if ((await mtime(input)) >= out) return false;
  }
  return true;
}

let ascModule;
async function asc() {
  ascModule ??= (await import('assemblyscript/asc')).default;
  return ascModule;
}

let wabtModule;
async function wabt() {
  if (!wabtModule) {
    const init = (await import('wabt')).default;
    wabtModule = await init();
  }
  return wabtModule;
}

/** Compiles one AssemblyScript guest to `outFile`; throws with the compiler's diagnostics on failure. */
export async function compileGuest(name, outFile, extraFlags = []) {
  const entry = relative(ROOT, join(GUESTS_DIR, name, 'index.ts'));
  return compileWithoutStart(entry, outFile, [...ascFlags(name), ...extraFlags]);
}

const CTOR_EVAL = join(ROOT, 'node_modules', 'binaryen', 'bin', 'wasm-ctor-eval');
// Exactly the features AssemblyScript emits by default (and the ABI allows); SIMD is allowed too.
const CTOR_EVAL_FEATURES = ['--mvp-features', '--enable-sign-ext', '--enable-mutable-globals', '--enable-nontrapping-float-to-int', '--enable-bulk-memory', '--enable-simd'];
const START_EXPORT = '_start';

/**
 * Compiles an AssemblyScript entry file to a module without a start function: compiled with the start
 * function exported as `_start`, which wasm-ctor-eval then runs at build time and removes.
 */
export async function compileWithoutStart(entry, outFile, flags) {
  const withStart = `${outFile}.start.wasm`;
  await compileAssemblyScript(entry, withStart, [...flags, '--exportStart', START_EXPORT]);
  try {
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(await readFile(withStart)));
    if (!exports.some((e) => e.name === START_EXPORT)) {
      // Nothing to evaluate (no start function).
      await writeFile(outFile, await readFile(withStart));
    } else {
      await promisify(execFile)(process.execPath, [CTOR_EVAL, withStart, `--ctors=${START_EXPORT}`, '-o', outFile, '--quiet', ...CTOR_EVAL_FEATURES]);
    }
  } finally {
    await rm(withStart, { force: true });
  }
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(await readFile(outFile)));
  if (exports.some((e) => e.name === START_EXPORT)) {
    throw new Error(`${relative(ROOT, outFile)}: wasm-ctor-eval could not evaluate the start function at build time`);
  }
}

/** Compiles an AssemblyScript entry file (relative to the repository root) with the given flags. */
export async function compileAssemblyScript(entry, outFile, flags) {
  const { main } = await asc();
  let stderr = '';
  const sink = { write: (s) => { stderr += String(s); return true; } };
  const result = await main([entry, '--baseDir', ROOT, '--outFile', resolve(ROOT, outFile), ...flags], {
    stdout: sink,
    stderr: sink,
  });
  if (result.error) {
    throw new Error(`asc failed for ${entry}:\n${stderr || result.error.message}`);
  }
  // Binaryen notes like "Last converge was suboptimal" are not errors.
  return stderr;
}

const WABT_FEATURES = {
  exceptions: true, mutable_globals: true, sat_float_to_int: true, sign_extension: true, simd: true, threads: true,
  function_references: true, multi_value: true, tail_call: true, bulk_memory: true, reference_types: true,
  annotations: true, code_metadata: true, gc: true, memory64: true, extended_const: true, relaxed_simd: true,
};

/** Assembles a .wat file with wabt (every feature accepted: hostile modules may use forbidden ones on purpose). */
export async function assembleWat(watFile, outFile) {
  const w = await wabt();
  const text = await readFile(watFile, 'utf8');
  const mod = w.parseWat(relative(ROOT, watFile), text, WABT_FEATURES);
  try {
    // Not validated: a hostile module may be invalid on purpose; the node's loader is the judge.
    mod.resolveNames();
    const { buffer } = mod.toBinary({ log: false, write_debug_names: true });
    await writeFile(outFile, buffer);
  } finally {
    mod.destroy();
  }
}

const ABI_IMPORTS = new Set([
  'log', 'clock_now_ms', 'config_get', 'kv_get', 'kv_put', 'kv_delete', 'kv_list', 'event_append', 'metric_add',
]);
const RUNTIME_MUTATIONS = /\b(memory\.init|data\.drop|table\.set|table\.grow|table\.fill|table\.copy|table\.init|elem\.drop)\b/;
const FORBIDDEN_OPS = /\b(atomic|memory\.atomic|try|catch|throw|rethrow|return_call|struct\.|array\.new|ref\.cast|i64x2\.relaxed|memory64)\b/;

/**
 * Checks what the ABI requires of a module that the compiler does not guarantee by itself. Returns a list of
 * problems (empty when the module is fine). The node's loader is the authority; this only catches build
 * mistakes early.
 */
export async function checkModuleShape(bytes, name = '') {
  const problems = [];
  const module = new WebAssembly.Module(bytes);
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'ea' || imp.kind !== 'function' || !ABI_IMPORTS.has(imp.name)) {
      problems.push(`import ${imp.module}.${imp.name} (${imp.kind}) is not part of the ABI`);
    }
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get('memory') !== 'memory') problems.push('no exported memory named "memory"');
  if (exports.get('ea_alloc') !== 'function') problems.push('no ea_alloc export');
  if (exports.get('ea_on_http') !== 'function' && exports.get('ea_on_events') !== 'function') {
    problems.push('no trigger export (ea_on_http / ea_on_events)');
  }
  const w = await wabt();
  const mod = w.readWasm(bytes, { readDebugNames: false, ...WABT_FEATURES });
  try {
    const text = mod.toText({ foldExprs: false, inlineExport: false });
    const memory = text.match(/\(memory \(;\d+;\) (\d+)(?: (\d+))?\)/);
    if (!memory) problems.push('no memory');
    else if (memory[2] === undefined) problems.push('memory has no maximum');
    else if (Number(memory[1]) > initialPages(name)) problems.push(`initial memory is ${memory[1]} pages (want ${initialPages(name)})`);
    for (const line of text.split('\n')) {
      if (line.includes('(data ') || line.includes('(import ') || line.includes('(export ')) continue;
      const mutation = line.match(RUNTIME_MUTATIONS);
      if (mutation) {
        problems.push(`uses ${mutation[1]} (the host would make a fresh instance for every call)`);
        break;
      }
      const forbidden = line.match(FORBIDDEN_OPS);
      if (forbidden) {
        problems.push(`uses a feature the ABI forbids: ${line.trim()}`);
        break;
      }
    }
    if (/^\s*\(start /m.test(text)) problems.push('has a start function (its global writes would not survive the host\'s reset)');
    const table = text.match(/\(table \(;\d+;\) (\d+)(?: (\d+))? funcref\)/);
    if (table && table[2] === undefined) problems.push('table has no maximum');
  } finally {
    mod.destroy();
  }
  return problems;
}

/**
 * Hook run after each AssemblyScript guest is compiled or found up to date: this is where signing goes
 * (writing `build/guests/<name>.wasm.sig.json` next to the module, see docs/abi.md "Manifest and signature").
 * `artifact`: { name, wasmPath, sigPath, compiled: boolean, bytes: Buffer }.
 */
export async function afterGuestBuilt(artifact) {
  // Signing is added here later; nothing to do yet.
  void artifact;
}

function formatSize(n) {
  return `${n.toLocaleString('en-US')} bytes (${(n / 1024).toFixed(1)} KiB)`;
}

/** Builds everything (or the named guests). Returns one record per artifact. */
export async function buildGuests({ force = false, only = [], log = () => {} } = {}) {
  await mkdir(OUT_DIR, { recursive: true });
  // Where earlier builds put the test fixtures.
  await rm(join(OUT_DIR, 'hostile'), { recursive: true, force: true });
  const artifacts = [];
  const sdkFiles = await listFiles(join(GUESTS_DIR, 'sdk'), '.ts');
  const common = [...sdkFiles, SCRIPT, join(ROOT, 'node_modules', 'assemblyscript', 'package.json')];

  for (const name of await listGuests()) {
    if (only.length > 0 && !only.includes(name)) continue;
    const wasmPath = join(OUT_DIR, `${name}.wasm`);
    const inputs = [...(await listFiles(join(GUESTS_DIR, name), '.ts')), ...common];
    let compiled = false;
    if (force || !(await upToDate(wasmPath, inputs))) {
      await compileGuest(name, wasmPath);
      compiled = true;
    }
    const bytes = await readFile(wasmPath);
    if (compiled) {
      const problems = await checkModuleShape(bytes, name);
      if (problems.length > 0) {
        throw new Error(`${relative(ROOT, wasmPath)} does not meet guest ABI v1:\n  ${problems.join('\n  ')}`);
      }
    }
    const artifact = { name, wasmPath, sigPath: `${wasmPath}.sig.json`, compiled, bytes };
    await afterGuestBuilt(artifact);
    artifacts.push(artifact);
    log(`${relative(ROOT, wasmPath).padEnd(48)} ${formatSize(bytes.length)}${compiled ? '' : '  (up to date)'}`);
  }

  const hostileDir = join(GUESTS_DIR, 'hostile');
  const wats = (await listFiles(hostileDir, '.wat')).sort();
  for (const wat of wats) {
    const name = relative(hostileDir, wat).replace(/\.wat$/, '');
    if (only.length > 0 && !only.includes(`hostile/${name}`)) continue;
    const wasmPath = join(TEST_OUT_DIR, `${name}.wasm`);
    await mkdir(dirname(wasmPath), { recursive: true });
    let compiled = false;
    if (force || !(await upToDate(wasmPath, [wat, SCRIPT]))) {
      await assembleWat(wat, wasmPath);
      compiled = true;
    }
    const size = (await stat(wasmPath)).size;
    artifacts.push({ name: `hostile/${name}`, wasmPath, compiled });
    log(`${relative(ROOT, wasmPath).padEnd(48)} ${formatSize(size)}${compiled ? '' : '  (up to date)'}`);
  }
  return artifacts;
}

/**
 * Runs `build` when the module at `url` is the script node was started with: `[--force] [--verbose] [NAME...]`,
 * quiet unless --verbose, exit 1 with the message on failure.
 */
export function runAsScript(url, build) {
  if (!process.argv[1] || pathToFileURL(resolve(process.argv[1])).href !== url) return;
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const log = args.includes('--verbose') ? console.log : undefined;
  const only = args.filter((a) => !a.startsWith('--'));
  build({ force, only, log }).catch((err) => {
    console.error(err.message ?? err);
    process.exit(1);
  });
}

runAsScript(import.meta.url, buildGuests);
