/**
 * Reads what the Rust SDK (guests/rust/src) and the C SDK (guests/c/ea_guest.h) declare about the ABI from
 * their source text, into the same description as the AssemblyScript reading (sdk-abi-reader.ts), so that
 * abi-agreement.ts compares all three with src/runtime/abi.ts. Each reader understands the forms its SDK
 * uses and nothing more:
 * - Rust: `#[link(wasm_import_module = "m")] extern "C" { #[link_name = "n"] pub fn f(..) -> T; }`,
 *   `pub const NAME: T = N;`, `pub mod m { pub const X: T = N; .. X => "TEXT" .. }`, `pub enum E { X = N }`,
 *   and `extern "C" fn` exports;
 * - C: `#define NAME N`, a function-like macro that expands to `__attribute__((import_module("m"),
 *   import_name(x)))` and the declarations that use it, `enum e { E_X = N };` (members named with the enum's
 *   upper-case name as prefix), `case E_X: return "TEXT";` in the function `<enum>_name`, and functions with
 *   an `export_name` (or a macro that expands to one).
 */
import type { SdkLayout } from './abi-agreement.js';
import { blankComments, enumMembers, wasmType, type SdkAbi, type SdkGroup, type SourceFile, type WasmType } from './sdk-abi-reader.js';

export const RUST_SDK_DIR = 'guests/rust/src';
export const C_SDK_FILE = 'guests/c/ea_guest.h';

/** The Rust SDK: modules for the constant groups, enums for the envelope's codes. */
export const RUST_LAYOUT: SdkLayout = {
  dir: RUST_SDK_DIR,
  importsFile: `${RUST_SDK_DIR}/abi.rs`,
  version: 'ABI_VERSION',
  groups: [
    { host: 'ABI_ERROR', sdk: 'error_code' },
    { host: 'LIMITS', sdk: 'limits' },
    { host: 'APPEND_RESULT', sdk: 'append_result' },
    { host: 'LOG_LEVEL', sdk: 'log_level' },
    { host: 'HTTP_METHOD', sdk: 'Method', sdkOnly: { Other: 0 } },
    { host: 'PRINCIPAL_KIND', sdk: 'Principal' },
  ],
  errorNames: 'error_code::name()',
  member: (group, name) => `${group}::${name}`,
};

/** The C SDK: one enum per group, members prefixed with the enum's name in upper case. */
export const C_LAYOUT: SdkLayout = {
  dir: C_SDK_FILE,
  importsFile: C_SDK_FILE,
  version: 'EA_ABI_VERSION',
  groups: [
    { host: 'ABI_ERROR', sdk: 'ea_error', sdkOnly: { NONE: 0 } },
    { host: 'LIMITS', sdk: 'ea_limit' },
    { host: 'APPEND_RESULT', sdk: 'ea_append' },
    { host: 'LOG_LEVEL', sdk: 'ea_level' },
    { host: 'HTTP_METHOD', sdk: 'ea_method', sdkOnly: { OTHER: 0 } },
    { host: 'PRINCIPAL_KIND', sdk: 'ea_principal' },
  ],
  errorNames: 'ea_error_name()',
  member: (group, name) => `${group.toUpperCase()}_${name}`,
};

/**
 * The source with comments replaced by spaces (offsets kept). String literals are kept; so are character
 * literals (`'"'`, `b'\\'`), which are told apart from Rust lifetimes (`'a`) by their closing quote.
 */
export function stripCode(text: string): string {
  return blankComments(text, (t, i) => {
    if (t[i] === '"') {
      let j = i + 1;
      while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
      return j + 1;
    }
    if (t[i] === "'") {
      const char = /^'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'/.exec(t.slice(i, i + 12));
      return i + (char ? char[0].length : 1);
    }
    return undefined;
  });
}

/** The index just after the brace that closes the one at `open` (in stripped text). */
function closingBrace(text: string, open: number, path: string): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    } else if (c === "'") {
      const char = /^'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'/.exec(text.slice(i, i + 12));
      if (char) i += char[0].length - 1;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  throw new Error(`${path}: unbalanced braces after offset ${open}`);
}

function integer(source: string): number | undefined {
  const s = source.trim();
  return /^-?(0|[1-9]\d*)$/.test(s) ? Number(s) : undefined;
}

/** Blanks the bodies of `ranges` out of `text` (offsets kept). */
function blank(text: string, ranges: Array<[number, number]>): string {
  let out = text;
  for (const [a, b] of ranges) out = out.slice(0, a) + ' '.repeat(b - a) + out.slice(b);
  return out;
}

const RUST_TYPES: Record<string, WasmType> = { i64: 'i64', u64: 'i64', f32: 'f32', f64: 'f64', i32: 'i32', u32: 'i32', usize: 'i32', isize: 'i32', bool: 'i32', u8: 'i32', i8: 'i32', u16: 'i32', i16: 'i32', char: 'i32' };

/** A Rust type as WebAssembly sees it on wasm32: pointers and references are i32. */
function rustType(type: string): WasmType {
  const t = type.trim();
  if (t.startsWith('*') || t.startsWith('&')) return 'i32';
  return RUST_TYPES[t] ?? t;
}

function rustParams(list: string): WasmType[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => rustType(p.slice(p.indexOf(':') + 1)));
}

const RUST_CONST = /pub\s+const\s+(\w+)\s*:\s*[\w&'\s[\];]+?=\s*([^;]+);/g;

/** Reads one Rust file; the caller merges files. */
export function readRustFile(file: SourceFile): SdkAbi {
  const text = stripCode(file.text);
  const groups: SdkGroup[] = [];
  const bodies: Array<[number, number]> = [];
  for (const m of text.matchAll(/pub\s+(mod|enum)\s+(\w+)\s*\{/g)) {
    const open = m.index + m[0].length - 1;
    const close = closingBrace(text, open, file.path);
    const body = text.slice(open + 1, close - 1);
    bodies.push([open + 1, close - 1]);
    groups.push({
      name: m[2]!,
      file: file.path,
      members: m[1] === 'enum' ? enumMembers(body, file.path) : [...body.matchAll(RUST_CONST)].map((c) => ({ name: c[1]!, source: c[2]!.trim(), value: integer(c[2]!), file: file.path })),
      cases: [...body.matchAll(/(\w+)\s*=>\s*"([^"]*)"/g)].filter((c) => c[1] !== '_').map((c) => ({ label: c[1]!, text: c[2]! })),
    });
  }
  const imports: SdkAbi['imports'] = [];
  for (const m of text.matchAll(/#\[link\(\s*wasm_import_module\s*=\s*"([^"]*)"\s*\)\]\s*(?:unsafe\s+)?extern\s+"C"\s*\{/g)) {
    const open = m.index + m[0].length - 1;
    const close = closingBrace(text, open, file.path);
    bodies.push([open + 1, close - 1]);
    const block = text.slice(open + 1, close - 1);
    for (const d of block.matchAll(/((?:#\[[^\]]*\]\s*)*)(?:pub\s+)?fn\s+(\w+)\s*\(([^)]*)\)\s*(?:->\s*([^;]+?))?\s*;/g)) {
      const linkName = /#\[link_name\s*=\s*"([^"]*)"\]/.exec(d[1]!);
      imports.push({
        module: m[1]!,
        name: linkName ? linkName[1]! : d[2]!,
        functionName: d[2]!,
        params: rustParams(d[3]!),
        results: d[4] === undefined ? [] : [rustType(d[4])],
        file: file.path,
      });
    }
  }
  const top = blank(text, bodies);
  const functions = [...top.matchAll(/(?:pub\s+)?(?:unsafe\s+)?extern\s+"C"\s+fn\s+(\w+)\s*\(([^)]*)\)\s*(?:->\s*([^{]+?))?\s*\{/g)].map((m) => ({
    name: m[1]!,
    params: rustParams(m[2]!),
    results: m[3] === undefined ? [] : [rustType(m[3])],
    file: file.path,
  }));
  const constants = [...top.matchAll(RUST_CONST)].map((c) => ({ name: c[1]!, source: c[2]!.trim(), value: integer(c[2]!), file: file.path }));
  return { imports, constants, functions, groups };
}

/** Reads every file of the Rust SDK into one description. */
export function readRustSdk(files: readonly SourceFile[]): SdkAbi {
  return merge(files.map(readRustFile));
}

/** A C type as WebAssembly sees it on wasm32. */
function cType(type: string): WasmType | undefined {
  const t = type.replace(/\bconst\b|\bunsigned\b|\bsigned\b/g, ' ').replace(/\s+/g, ' ').trim();
  if (t === 'void') return undefined;
  if (t.includes('*') || t.startsWith('enum ')) return 'i32';
  if (/^(int64_t|uint64_t|long long|long long int)$/.test(t)) return 'i64';
  if (t === 'double') return 'f64';
  if (t === 'float') return 'f32';
  return /^(int|int32_t|uint32_t|size_t|uintptr_t|intptr_t|char|short|int8_t|uint8_t|int16_t|uint16_t|long|)$/.test(t) ? 'i32' : wasmType(t);
}

function cParams(list: string): WasmType[] {
  const params = list.split(',').map((p) => p.trim()).filter((p) => p.length > 0 && p !== 'void');
  // Drop the parameter's name: the last identifier, unless the declaration is only a type.
  return params.map((p) => cType(p.replace(/\b\w+$/, (name) => (/^(int|char|double|float|void|\w+_t)$/.test(name) ? name : ''))) ?? 'void');
}

/** Reads the C SDK's header. */
export function readCFile(file: SourceFile): SdkAbi {
  const text = stripCode(file.text);
  const constants = [...text.matchAll(/^\s*#define\s+(\w+)\s+([^\n]+)$/gm)]
    .filter((m) => !m[1]!.includes('('))
    .map((m) => ({ name: m[1]!, source: m[2]!.trim(), value: integer(m[2]!), file: file.path }));
  const importMacros = new Map<string, string>();
  const exportMacros = new Set<string>();
  for (const m of text.matchAll(/#define\s+(\w+)\((\w+)\)\s+__attribute__\(\(\s*import_module\("([^"]*)"\)\s*,\s*import_name\(\2\)\s*\)\)/g)) importMacros.set(m[1]!, m[3]!);
  for (const m of text.matchAll(/#define\s+(\w+)\((\w+)\)\s+__attribute__\(\(\s*export_name\(\2\)\s*\)\)/g)) exportMacros.add(m[1]!);

  const imports: SdkAbi['imports'] = [];
  const declaration = /(\w+)\("([^"]*)"\)\s+([\w\s*]+?)\s*\b(\w+)\s*\(([^)]*)\)\s*;/g;
  for (const m of text.matchAll(declaration)) {
    const module = importMacros.get(m[1]!);
    if (module === undefined) continue;
    const result = cType(m[3]!);
    imports.push({ module, name: m[2]!, functionName: m[4]!, params: cParams(m[5]!), results: result ? [result] : [], file: file.path });
  }
  const functions: SdkAbi['functions'] = [];
  for (const m of text.matchAll(/(\w+)\("([^"]*)"\)\s+([\w\s*]+?)\s*\b(\w+)\s*\(([^)]*)\)\s*\{/g)) {
    if (!exportMacros.has(m[1]!)) continue;
    const result = cType(m[3]!);
    functions.push({ name: m[2]!, params: cParams(m[5]!), results: result ? [result] : [], file: file.path });
  }
  const groups: SdkGroup[] = [];
  for (const m of text.matchAll(/enum\s+(\w+)\s*\{/g)) {
    const open = m.index + m[0].length - 1;
    const close = closingBrace(text, open, file.path);
    const prefix = `${m[1]!.toUpperCase()}_`;
    const namer = new RegExp(`\\b${m[1]}_name\\s*\\([^)]*\\)\\s*\\{`).exec(text);
    const fnBody = namer ? text.slice(namer.index, closingBrace(text, namer.index + namer[0].length - 1, file.path)) : '';
    groups.push({
      name: m[1]!,
      file: file.path,
      members: enumMembers(text.slice(open + 1, close - 1), file.path, prefix),
      cases: [...fnBody.matchAll(/case\s+(\w+)\s*:\s*return\s+"([^"]*)"/g)].map((c) => ({ label: c[1]!.startsWith(prefix) ? c[1]!.slice(prefix.length) : c[1]!, text: c[2]! })),
    });
  }
  return { imports, constants, functions, groups };
}

/** Reads the C SDK (its one header, or several files) into one description. */
export function readCSdk(files: readonly SourceFile[]): SdkAbi {
  return merge(files.map(readCFile));
}

function merge(parts: SdkAbi[]): SdkAbi {
  const all: SdkAbi = { imports: [], constants: [], functions: [], groups: [] };
  for (const one of parts) {
    all.imports.push(...one.imports);
    all.constants.push(...one.constants);
    all.functions.push(...one.functions);
    all.groups.push(...one.groups);
  }
  return all;
}
