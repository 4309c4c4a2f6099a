/**
 * Compiles a guest project made by `edgeagg new` with the same toolchains and arguments as the package's own
 * guests: it calls scripts/build-guests.mjs and scripts/build-native-guests.mjs, so the module shape the loader
 * requires (a memory maximum, a small initial memory, no start function, only `ea.*` imports) stays defined in
 * one place.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, delimiter, join, posix, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../node/index.js';

/** The languages `edgeagg new` and `edgeagg build` know. */
export const GUEST_LANGUAGES = ['as', 'rust', 'c'] as const;
export type GuestLanguage = (typeof GUEST_LANGUAGES)[number];

/** Where each language's SDK is in the installed package. */
export const SDK_DIRS: Record<GuestLanguage, string> = {
  as: join(PACKAGE_ROOT, 'guests', 'sdk'),
  rust: join(PACKAGE_ROOT, 'guests', 'rust'),
  c: join(PACKAGE_ROOT, 'guests', 'c'),
};

/** A toolchain (asc, rustc, clang) is missing or failed; `message` says which and how to fix it. */
export class ToolchainError extends Error {
  override name = 'ToolchainError';
}

interface AsBuildScript {
  ascFlags(name: string): string[];
  compileWithoutStart(entry: string, outFile: string, flags: string[]): Promise<void>;
  checkModuleShape(bytes: Uint8Array, name?: string): Promise<string[]>;
}
interface NativeBuildScript {
  rustGuestArgs(crateName: string, source: string, outFile: string, sdkRlib: string): string[];
  cGuestArgs(sources: string[], outFile: string): string[];
}

async function script<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(join(PACKAGE_ROOT, 'scripts', file)).href)) as T;
}

// As scripts/build-native-guests.mjs builds the SDK's rlib.
const RUST_SDK_FLAGS = ['--edition', '2021', '--target', 'wasm32-unknown-unknown', '-C', 'opt-level=z', '-C', 'panic=abort', '-C', 'codegen-units=1', '-D', 'warnings'];

function rustc(): string {
  return process.env.EA_RUSTC ?? (existsSync('/usr/bin/rustc') ? '/usr/bin/rustc' : 'rustc');
}

function clang(): string {
  return process.env.EA_CLANG ?? 'clang';
}

/** Runs a toolchain from the package root (the build scripts' arguments are relative to it). */
async function run(command: string, args: string[]): Promise<void> {
  // clang runs any wasm-opt on PATH; binaryen's in node_modules/.bin rejects what clang emitted.
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.includes(`node_modules${sep}.bin`));
  try {
    await promisify(execFile)(command, args, { cwd: PACKAGE_ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PATH: path.join(delimiter) } });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new ToolchainError(`${command} not found: install Debian's rustc, libstd-rust-dev-wasm32, lld and clang (scripts/install-system-deps.sh), or set EA_RUSTC / EA_CLANG`, { cause: error });
    }
    throw new ToolchainError(`${basename(command)} failed:\n${e.stderr || e.message}`, { cause: error });
  }
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

function filesIn(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(ext)).map((f) => join(dir, f)).sort();
}

/**
 * Compiles the project in `dir` (language `lang`, module name `name`) to `outFile` and checks the module's shape.
 * Returns the module's bytes.
 */
export async function compileGuestProject(dir: string, lang: GuestLanguage, name: string, outFile: string): Promise<Uint8Array> {
  const shape = await script<AsBuildScript>('build-guests.mjs');
  mkdirSync(join(outFile, '..'), { recursive: true });
  if (lang === 'as') {
    if (!existsSync(join(PACKAGE_ROOT, 'node_modules', 'assemblyscript'))) {
      throw new ToolchainError(`the AssemblyScript compiler is not installed: run \`npm install\` in ${PACKAGE_ROOT}`);
    }
    const entry = toPosix(relative(PACKAGE_ROOT, join(dir, 'index.ts')));
    // asc names the SDK's files by the path the project imports them by, relative to the package root.
    const sdk = posix.normalize(posix.join(posix.dirname(entry), toPosix(relative(dir, SDK_DIRS.as))));
    const flags = shape.ascFlags(name).map((f) => f.replace(/^abort=guests\/sdk\//, `abort=${sdk}/`));
    try {
      await shape.compileWithoutStart(entry, outFile, flags);
    } catch (error) {
      throw new ToolchainError((error as Error).message, { cause: error });
    }
  } else {
    const native = await script<NativeBuildScript>('build-native-guests.mjs');
    if (lang === 'rust') {
      const rlibDir = join(dir, 'build', 'native');
      const rlib = join(rlibDir, 'libea_guest.rlib');
      // Built once per project, again when the installed SDK is newer.
      const stale = () => filesIn(join(SDK_DIRS.rust, 'src'), '.rs').some((f) => statSync(f).mtimeMs >= statSync(rlib).mtimeMs);
      if (!existsSync(rlib) || stale()) {
        await run(rustc(), [...RUST_SDK_FLAGS, '--crate-type=rlib', '--crate-name', 'ea_guest', join(SDK_DIRS.rust, 'src', 'lib.rs'), '--out-dir', rlibDir]);
      }
      await run(rustc(), native.rustGuestArgs(name.replace(/-/g, '_'), join(dir, 'src', 'lib.rs'), outFile, rlib));
    } else {
      const sources = filesIn(dir, '.c').filter((f) => !relative(dir, f).startsWith(`build${sep}`));
      await run(clang(), native.cGuestArgs(sources, outFile));
    }
  }
  const bytes = await readFile(outFile);
  // The initial memory differs per language (scripts/build-native-guests.mjs LAYOUT); the rest is the ABI's.
  const problems = (await shape.checkModuleShape(bytes, name)).filter((p) => lang === 'as' || !p.startsWith('initial memory is'));
  if (problems.length > 0) throw new ToolchainError(`${outFile} does not meet guest ABI v1:\n  ${problems.join('\n  ')}`);
  return bytes;
}
