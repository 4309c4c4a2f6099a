/**
 * Reads what the AssemblyScript SDK declares about the ABI from its source text: Node cannot import
 * AssemblyScript, so the agreement test compares this reading with src/runtime/abi.ts. It understands the
 * forms the SDK uses and nothing more: `@external` function declarations, `export const NAME: i32 = N;`,
 * `export namespace N { export const X: i32 = N; }`, `export enum N { X = N }`, and `case X: return "Y";`.
 */

/** A value type as WebAssembly sees it (wasm32: `usize` is `i32`), or the source's type when it has none. */
export type WasmType = 'i32' | 'i64' | 'f32' | 'f64' | (string & {});

/** A named integer constant: `value` is undefined when the source is not an integer literal. */
export interface SdkConstant {
  name: string;
  source: string;
  value: number | undefined;
  file: string;
}

/** An imported function: `@external(module, name) declare function functionName(...)`. */
export interface SdkImport {
  module: string;
  name: string;
  functionName: string;
  params: WasmType[];
  results: WasmType[];
  file: string;
}

export interface SdkFunction {
  name: string;
  params: WasmType[];
  results: WasmType[];
  file: string;
}

/** The integer members of a namespace or an enum. */
export interface SdkGroup {
  name: string;
  file: string;
  members: SdkConstant[];
  /** `case LABEL: return "TEXT";` inside the group's functions (AbiError.name()). */
  cases: Array<{ label: string; text: string }>;
}

export interface SdkAbi {
  imports: SdkImport[];
  /** Top-level `export const`s. */
  constants: SdkConstant[];
  /** Top-level `export function`s. */
  functions: SdkFunction[];
  groups: SdkGroup[];
}

export interface SourceFile {
  /** Relative to the repository root, e.g. `guests/sdk/abi.ts`: it names the file in messages. */
  path: string;
  text: string;
}

const WASM_TYPES: Record<string, WasmType> = {
  i32: 'i32', u32: 'i32', usize: 'i32', isize: 'i32', bool: 'i32', i8: 'i32', u8: 'i32', i16: 'i32', u16: 'i32',
  i64: 'i64', u64: 'i64', f32: 'f32', f64: 'f64',
};

export function wasmType(type: string): WasmType {
  return WASM_TYPES[type] ?? type;
}

/**
 * The source with comments replaced by spaces (offsets kept). `literalEnd` says where a string or character
 * literal starting at `i` ends (undefined: none starts there); literals are kept as they are, comments
 * inside them included.
 */
export function blankComments(text: string, literalEnd: (text: string, i: number) => number | undefined): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const end = literalEnd(text, i);
    if (end !== undefined) {
      out += text.slice(i, end);
      i = end;
    } else if (text.startsWith('//', i)) {
      const lineEnd = text.indexOf('\n', i);
      const stop = lineEnd < 0 ? text.length : lineEnd;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      const stop = close < 0 ? text.length : close + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += text[i]!;
      i++;
    }
  }
  return out;
}

/** The source with comments replaced by spaces (offsets kept), string literals left as they are. */
export function stripComments(text: string): string {
  return blankComments(text, (t, i) => (t[i] === '"' || t[i] === "'" || t[i] === '`' ? stringEnd(t, i) : undefined));
}

function stringEnd(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length && text[i] !== quote) i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** The index just after the brace that closes the one at `open`. */
function closingBrace(text: string, open: number, path: string): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = stringEnd(text, i);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
    i++;
  }
  throw new Error(`${path}: unbalanced braces after offset ${open}`);
}

function integer(source: string): number | undefined {
  const s = source.trim();
  return /^-?(0|[1-9]\d*)$/.test(s) ? Number(s) : undefined;
}

function params(list: string): WasmType[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => wasmType(p.slice(p.indexOf(':') + 1).trim()));
}

function results(type: string): WasmType[] {
  return type === 'void' ? [] : [wasmType(type)];
}

const CONST = /export\s+const\s+(\w+)\s*(?::\s*\w+\s*)?=\s*([^;]+);/g;

function constants(text: string, file: string): SdkConstant[] {
  return [...text.matchAll(CONST)].map((m) => ({ name: m[1]!, source: m[2]!.trim(), value: integer(m[2]!), file }));
}

/** The members of an enum body (`A = 1, B, C = 7`), numbered as C, Rust and AssemblyScript number them; `prefix` is cut from names. */
export function enumMembers(body: string, file: string, prefix = ''): SdkConstant[] {
  let next = 0;
  return body
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0)
    .map((m) => {
      const [raw, source] = m.split('=').map((s) => s.trim());
      const value = source === undefined ? next : integer(source);
      next = (value ?? Number.NaN) + 1;
      const name = raw!.startsWith(prefix) ? raw!.slice(prefix.length) : raw!;
      return { name, source: source ?? String(value), value, file };
    });
}

/** Reads one file; the caller merges files. */
export function readSdkFile(file: SourceFile): SdkAbi {
  const text = stripComments(file.text);
  const groups: SdkGroup[] = [];
  // Top-level text: the file with every namespace and enum body blanked out.
  let top = text;
  for (const m of text.matchAll(/export\s+(namespace|enum)\s+(\w+)\s*\{/g)) {
    const open = m.index + m[0].length - 1;
    const close = closingBrace(text, open, file.path);
    const body = text.slice(open + 1, close - 1);
    groups.push({
      name: m[2]!,
      file: file.path,
      members: m[1] === 'enum' ? enumMembers(body, file.path) : constants(body, file.path),
      cases: [...body.matchAll(/case\s+([^:]+?)\s*:\s*return\s+"([^"]*)"/g)].map((c) => ({ label: c[1]!, text: c[2]! })),
    });
    top = top.slice(0, open + 1) + ' '.repeat(close - open - 2) + top.slice(close - 1);
  }
  const imports: SdkImport[] = [];
  const declared = /((?:@\w+(?:\([^)]*\))?\s*)*)(?:export\s+)?declare\s+function\s+(\w+)\s*\(([^)]*)\)\s*:\s*(\w+)\s*;/g;
  for (const m of top.matchAll(declared)) {
    const external = /@external\(\s*"([^"]*)"(?:\s*,\s*"([^"]*)")?\s*\)/.exec(m[1]!);
    // AssemblyScript's defaults: the module is the file's name, the import is the function's name.
    const fileModule = file.path.replace(/^.*\//, '').replace(/\.ts$/, '');
    const [module, name] = external ? (external[2] !== undefined ? [external[1]!, external[2]] : [fileModule, external[1]!]) : [fileModule, m[2]!];
    imports.push({ module, name, functionName: m[2]!, params: params(m[3]!), results: results(m[4]!), file: file.path });
  }
  const functions = [...top.matchAll(/export\s+function\s+(\w+)\s*\(([^)]*)\)\s*:\s*(\w+)/g)].map((m) => ({
    name: m[1]!,
    params: params(m[2]!),
    results: results(m[3]!),
    file: file.path,
  }));
  return { imports, constants: constants(top, file.path), functions, groups };
}

/** Reads every file of the SDK into one description. */
export function readSdkAbi(files: readonly SourceFile[]): SdkAbi {
  const all: SdkAbi = { imports: [], constants: [], functions: [], groups: [] };
  for (const file of files) {
    const one = readSdkFile(file);
    all.imports.push(...one.imports);
    all.constants.push(...one.constants);
    all.functions.push(...one.functions);
    all.groups.push(...one.groups);
  }
  return all;
}
