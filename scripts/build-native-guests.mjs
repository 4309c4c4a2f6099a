#!/usr/bin/env node
// Builds the guests written in Rust and C against guest ABI v1 (docs/abi.md):
//   guests/<name>/src/lib.rs (Rust, on the SDK in guests/rust)  -> build/guests/<name>.wasm
//   guests/<name>/main.c     (C, on guests/c/ea_guest.h)        -> build/guests/<name>.wasm (every .c of the folder)
//   guests/rust/tests/<t>.rs, guests/c/tests/<t>.c (fixtures)   -> build/test-guests/rust-<t>.wasm, c-<t>.wasm
// scripts/sign-guests.mjs then signs build/guests/<name>.wasm with guests/<name>/guest.json, as for the
// AssemblyScript guests.
//
// Toolchains, as Debian packages them (scripts/install-system-deps.sh): rustc 1.63 with
// libstd-rust-dev-wasm32 and lld, and clang. No cargo and no network: the SDK is compiled once as an rlib and
// each guest as a cdylib that links it. `/usr/bin/rustc` is preferred over the first `rustc` on PATH, which
// may be a rustup toolchain without the wasm32 target; EA_RUSTC and EA_CLANG override both.
//
// The ABI needs a memory maximum (rustc and clang emit none by default: the loader refuses that) and a small
// initial memory (restored after every call); the shadow stack goes first, so that overflowing it traps
// instead of overwriting static data.
//
// Work is skipped when an output is newer than all of its inputs. `--force` rebuilds everything. Quiet on
// success; `--verbose` lists every module with its size.
// Usage: node scripts/build-native-guests.mjs [--force] [--verbose] [name ...]

import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { basename, delimiter, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GUESTS_DIR, MAXIMUM_PAGES, OUT_DIR, ROOT, TEST_OUT_DIR, checkModuleShape, runAsScript } from './build-guests.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const RUST_SDK_DIR = join(GUESTS_DIR, 'rust');
const C_SDK_DIR = join(GUESTS_DIR, 'c');
/** Intermediate files: the Rust SDK's rlib. */
const NATIVE_DIR = join(ROOT, 'build', 'native');
const PAGE = 65536;

/**
 * Memory layout per language: the shadow stack, then static data, then the heap, in `initialPages` pages
 * at first. Rust guests read JSON with core's float parser, whose tables are about 12 KiB of static data, and
 * their usual call (a batch of readings) needs a few KiB of heap more: two pages keep it from growing memory,
 * which would cost the next call a fresh instance.
 */
export const LAYOUT = {
  rust: { stackBytes: 32768, initialPages: 2 },
  c: { stackBytes: 32768, initialPages: 1 },
};

function rustc() {
  return process.env.EA_RUSTC ?? (existsSync('/usr/bin/rustc') ? '/usr/bin/rustc' : 'rustc');
}

function clang() {
  return process.env.EA_CLANG ?? 'clang';
}

const RUST_FLAGS = ['--edition', '2021', '--target', 'wasm32-unknown-unknown', '-C', 'opt-level=z', '-C', 'panic=abort', '-C', 'codegen-units=1', '-D', 'warnings'];

/** rustc's arguments for a guest (a cdylib linking the SDK's rlib). */
export function rustGuestArgs(crateName, source, outFile, sdkRlib) {
  const { stackBytes, initialPages } = LAYOUT.rust;
  return [
    ...RUST_FLAGS,
    '--crate-type=cdylib',
    '--crate-name', crateName,
    '-C', 'lto',
    '-C', 'strip=symbols',
    '--extern', `ea_guest=${sdkRlib}`,
    '-C', `link-arg=--initial-memory=${initialPages * PAGE}`,
    '-C', `link-arg=--max-memory=${MAXIMUM_PAGES * PAGE}`,
    '-C', `link-arg=-zstack-size=${stackBytes}`,
    relative(ROOT, source),
    '-o', outFile,
  ];
}

/** clang's arguments for a guest made of `sources`. */
export function cGuestArgs(sources, outFile) {
  const { stackBytes, initialPages } = LAYOUT.c;
  return [
    '--target=wasm32-unknown-unknown', '-nostdlib', '-Oz', '-std=c11', '-Wall', '-Wextra', '-Werror',
    // memcpy and memset become memory.copy and memory.fill: there is no libc to call.
    '-mbulk-memory',
    '-I', relative(ROOT, C_SDK_DIR),
    '-Wl,--no-entry', '-Wl,--stack-first', `-Wl,-z,stack-size=${stackBytes}`,
    `-Wl,--initial-memory=${initialPages * PAGE}`, `-Wl,--max-memory=${MAXIMUM_PAGES * PAGE}`, '-Wl,--strip-all',
    ...sources.map((s) => relative(ROOT, s)),
    '-o', outFile,
  ];
}

/**
 * The environment the toolchains run in. clang runs any `wasm-opt` it finds on PATH after linking, and npm puts
 * node_modules/.bin first on PATH in its scripts, where binaryen's (AssemblyScript's) wasm-opt then rejects
 * the bulk-memory instructions clang emitted: the build must not depend on how it was started.
 */
function toolchainEnv() {
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.includes(`node_modules${sep}.bin`));
  return { ...process.env, PATH: path.join(delimiter) };
}

async function run(command, args) {
  try {
    await promisify(execFile)(command, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, env: toolchainEnv() });
  } catch (error) {
    if (error.code === 'ENOENT') {
      throw new Error(`${command} not found: install the guest toolchains (scripts/install-system-deps.sh: Debian's rustc, libstd-rust-dev-wasm32, lld, clang)`, { cause: error });
    }
    throw new Error(`${basename(command)} failed:\n${error.stderr || error.message}`, { cause: error });
  }
}

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

async function upToDate(output, inputs) {
  const out = await mtime(output);
  if (out < 0) return false;
  for (const input of inputs) if ((await mtime(input)) >= out) return false;
  return true;
}

async function listFiles(dir, ext) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p, ext)));
    else if (entry.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

/**
 * The Rust and C guests and test fixtures: `{ name, language, sources, outFile, fixture }`, sorted by name.
 * A folder of guests/ is a Rust guest when it has src/lib.rs, a C guest when it has main.c.
 */
export async function listNativeGuests() {
  const guests = [];
  for (const entry of await readdir(GUESTS_DIR, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'rust' || entry.name === 'c') continue;
    const dir = join(GUESTS_DIR, entry.name);
    const outFile = join(OUT_DIR, `${entry.name}.wasm`);
    if (existsSync(join(dir, 'src', 'lib.rs'))) {
      guests.push({ name: entry.name, language: 'rust', sources: [join(dir, 'src', 'lib.rs')], inputs: await listFiles(join(dir, 'src'), '.rs'), outFile, fixture: false });
    } else if (existsSync(join(dir, 'main.c'))) {
      const sources = await listFiles(dir, '.c');
      guests.push({ name: entry.name, language: 'c', sources, inputs: [...sources, ...(await listFiles(dir, '.h'))], outFile, fixture: false });
    }
  }
  for (const file of await listFiles(join(RUST_SDK_DIR, 'tests'), '.rs')) {
    const name = `rust-${basename(file, '.rs')}`;
    guests.push({ name, language: 'rust', sources: [file], inputs: [file], outFile: join(TEST_OUT_DIR, `${name}.wasm`), fixture: true });
  }
  for (const file of await listFiles(join(C_SDK_DIR, 'tests'), '.c')) {
    const name = `c-${basename(file, '.c')}`;
    guests.push({ name, language: 'c', sources: [file], inputs: [file], outFile: join(TEST_OUT_DIR, `${name}.wasm`), fixture: true });
  }
  return guests.sort((a, b) => a.name.localeCompare(b.name));
}

/** Compiles the Rust SDK to an rlib (when its sources changed) and returns its path. */
async function buildRustSdk(force) {
  const rlib = join(NATIVE_DIR, 'libea_guest.rlib');
  const inputs = [...(await listFiles(join(RUST_SDK_DIR, 'src'), '.rs')), SCRIPT];
  if (force || !(await upToDate(rlib, inputs))) {
    await mkdir(NATIVE_DIR, { recursive: true });
    await run(rustc(), [...RUST_FLAGS, '--crate-type=rlib', '--crate-name', 'ea_guest', relative(ROOT, join(RUST_SDK_DIR, 'src', 'lib.rs')), '--out-dir', NATIVE_DIR]);
  }
  return rlib;
}

function formatSize(n) {
  return `${n.toLocaleString('en-US')} bytes (${(n / 1024).toFixed(1)} KiB)`;
}

/**
 * Builds every Rust and C guest (or the named ones) and checks each module's shape. Returns one record per
 * module: `{ name, wasmPath, sigPath, compiled, bytes }` (`sigPath` is where sign-guests.mjs writes, for
 * guests that are shipped; fixtures are not signed).
 */
export async function buildNativeGuests({ force = false, only = [], log = () => {} } = {}) {
  const guests = (await listNativeGuests()).filter((g) => only.length === 0 || only.includes(g.name));
  const artifacts = [];
  let sdkRlib;
  const sdkInputs = [...(await listFiles(join(RUST_SDK_DIR, 'src'), '.rs')), join(C_SDK_DIR, 'ea_guest.h'), SCRIPT];
  for (const g of guests) {
    await mkdir(resolve(g.outFile, '..'), { recursive: true });
    let compiled = false;
    if (force || !(await upToDate(g.outFile, [...g.inputs, ...sdkInputs]))) {
      if (g.language === 'rust') {
        sdkRlib ??= await buildRustSdk(force);
        await run(rustc(), rustGuestArgs(g.name.replace(/-/g, '_'), g.sources[0], g.outFile, sdkRlib));
      } else {
        await run(clang(), cGuestArgs(g.sources, g.outFile));
      }
      compiled = true;
    }
    const bytes = await readFile(g.outFile);
    if (compiled) {
      // build-guests.mjs checks the initial memory against the AssemblyScript layout; LAYOUT sets it here.
      const problems = (await checkModuleShape(bytes, g.name)).filter((p) => !p.startsWith('initial memory is'));
      if (problems.length > 0) {
        throw new Error(`${relative(ROOT, g.outFile)} does not meet guest ABI v1:\n  ${problems.join('\n  ')}`);
      }
    }
    artifacts.push({ name: g.name, wasmPath: g.outFile, sigPath: g.fixture ? undefined : `${g.outFile}.sig.json`, compiled, bytes });
    log(`${relative(ROOT, g.outFile).padEnd(48)} ${formatSize(bytes.length)}${compiled ? '' : '  (up to date)'}`);
  }
  return artifacts;
}

runAsScript(import.meta.url, buildNativeGuests);
