/**
 * Compares the ABI the host declares (src/runtime/abi.ts) with what an SDK declares (read from its source:
 * AssemblyScript by sdk-abi-reader.ts, Rust and C by native-sdk-reader.ts). Every disagreement is one message
 * that names the constant on both sides; no message means the two agree.
 */
import * as abi from '../../src/runtime/abi.js';
import type { SdkAbi, SdkConstant, SdkGroup } from './sdk-abi-reader.js';

export const HOST_FILE = 'src/runtime/abi.ts';
export const SDK_DIR = 'guests/sdk';

/** The parts of src/runtime/abi.ts a guest's SDK must repeat. */
export interface HostAbi {
  version: number;
  module: string;
  imports: Record<string, { params: readonly string[]; results: readonly string[] }>;
  allocExport: string;
  /** Keyed by the constant's name in src/runtime/abi.ts, e.g. `ABI_ERROR`. */
  groups: Record<string, Record<string, number>>;
}

export const HOST_ABI: HostAbi = {
  version: abi.ABI_VERSION,
  module: abi.ABI_MODULE,
  imports: abi.IMPORTS,
  allocExport: abi.EXPORTS.alloc,
  groups: {
    ABI_ERROR: abi.ABI_ERROR,
    LIMITS: abi.LIMITS,
    APPEND_RESULT: abi.APPEND_RESULT,
    LOG_LEVEL: abi.LOG_LEVEL,
    HTTP_METHOD: abi.HTTP_METHOD,
    PRINCIPAL_KIND: abi.PRINCIPAL_KIND,
  },
};

/** Where an SDK keeps its copy of the ABI, and how it names it. */
export interface SdkLayout {
  /** The SDK's folder (or single file), named in messages. */
  dir: string;
  /** The file a missing import belongs in. */
  importsFile: string;
  /** The name of the ABI version constant. */
  version: string;
  /**
   * Which SDK group (namespace, module or enum) copies which host constant. `sdkOnly` are members the SDK
   * may add (with their value): "no error" for an errno-style API; the method the host sends for any other.
   */
  groups: ReadonlyArray<{ host: string; sdk: string; sdkOnly?: Record<string, number> }>;
  /** The function that names error codes, as messages call it (its group copies ABI_ERROR). */
  errorNames: string;
  /** How the source spells a member of a group, for messages. */
  member: (group: string, name: string) => string;
}

/** The AssemblyScript SDK: guests/sdk. AbiError.NONE is "no error" for lastError(). */
export const AS_LAYOUT: SdkLayout = {
  dir: SDK_DIR,
  importsFile: `${SDK_DIR}/abi.ts`,
  version: 'ABI_VERSION',
  groups: [
    { host: 'ABI_ERROR', sdk: 'AbiError', sdkOnly: { NONE: 0 } },
    { host: 'LIMITS', sdk: 'Limits' },
    { host: 'APPEND_RESULT', sdk: 'AppendResult' },
    { host: 'LOG_LEVEL', sdk: 'log' },
    { host: 'HTTP_METHOD', sdk: 'Method', sdkOnly: { Other: 0 } },
    { host: 'PRINCIPAL_KIND', sdk: 'Principal' },
  ],
  errorNames: 'AbiError.name()',
  member: (group, name) => `${group}.${name}`,
};

/** `QUOTA`, `quota`, `logBytes`, `LOG_BYTES`, `Anonymous` and `anonymous` compare by letters and digits only. */
function normalize(name: string): string {
  return name.replace(/_/g, '').toLowerCase();
}

function signature(params: readonly string[], results: readonly string[]): string {
  return `(${params.join(', ')}) -> ${results.length === 0 ? 'void' : results.join(', ')}`;
}

function literal(c: SdkConstant, where: string): string | undefined {
  if (c.value !== undefined) return undefined;
  return `${where} in ${c.file} is \`${c.source}\`, not an integer literal: write the number, so that the agreement test can read it`;
}

function compareImports(host: HostAbi, sdk: SdkAbi, layout: SdkLayout): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const imp of sdk.imports) {
    const where = `${imp.functionName} in ${imp.file}`;
    if (imp.module !== host.module) {
      out.push(`${where} imports from module "${imp.module}", but ABI_MODULE is "${host.module}" in ${HOST_FILE}`);
      continue;
    }
    const declared = host.imports[imp.name];
    if (!declared) {
      out.push(`${where} imports ${imp.module}.${imp.name}, which is not in IMPORTS in ${HOST_FILE}`);
      continue;
    }
    if (seen.has(imp.name)) out.push(`${imp.module}.${imp.name} is declared more than once in ${layout.dir}`);
    seen.add(imp.name);
    if (imp.functionName !== `ea_${imp.name}`) out.push(`${where} imports ${imp.module}.${imp.name}: name it ea_${imp.name}`);
    const sdkSig = signature(imp.params, imp.results);
    const hostSig = signature(declared.params, declared.results);
    if (sdkSig !== hostSig) {
      out.push(`import ${imp.module}.${imp.name} is ${sdkSig} in ${imp.file}, but IMPORTS.${imp.name} is ${hostSig} in ${HOST_FILE}`);
    }
  }
  for (const name of Object.keys(host.imports)) {
    if (!seen.has(name)) out.push(`${layout.dir} declares no import ${host.module}.${name} (IMPORTS.${name} in ${HOST_FILE}): add ea_${name} to ${layout.importsFile}`);
  }
  return out;
}

function compareGroup(hostName: string, values: Record<string, number>, group: SdkGroup, sdkOnly: Record<string, number>, layout: SdkLayout): string[] {
  const out: string[] = [];
  const member = (name: string) => layout.member(group.name, name);
  const members = new Map(group.members.map((m) => [normalize(m.name), m]));
  for (const [key, value] of Object.entries(values)) {
    const m = members.get(normalize(key));
    if (!m) {
      out.push(`${member(key)} is missing from ${group.file} (${hostName}.${key} is ${value} in ${HOST_FILE})`);
      continue;
    }
    members.delete(normalize(key));
    const notLiteral = literal(m, member(m.name));
    if (notLiteral) out.push(notLiteral);
    else if (m.value !== value) out.push(`${member(m.name)} is ${m.value} in ${group.file}, but ${hostName}.${key} is ${value} in ${HOST_FILE}`);
  }
  for (const m of members.values()) {
    if (m.name in sdkOnly) {
      if (m.value !== sdkOnly[m.name]) out.push(`${member(m.name)} is ${m.source} in ${group.file}; it must be ${sdkOnly[m.name]}`);
      continue;
    }
    out.push(`${member(m.name)} = ${m.source} in ${group.file} has no counterpart in ${hostName} in ${HOST_FILE}`);
  }
  return out;
}

/** The error-naming function (AbiError.name()) must give each code the host's name for it. */
function compareErrorNames(errors: Record<string, number>, group: SdkGroup, fn: string): string[] {
  const out: string[] = [];
  const members = new Map(group.members.map((m) => [m.name, m.value]));
  const nameOf = new Map(Object.entries(errors).map(([name, code]) => [code, name]));
  const covered = new Set<number>();
  for (const c of group.cases) {
    const label = c.label.startsWith(`${group.name}.`) ? c.label.slice(group.name.length + 1) : c.label;
    const code = members.has(label) ? members.get(label) : Number(label);
    if (code === undefined || Number.isNaN(code)) {
      out.push(`${fn} in ${group.file} has a case \`${c.label}\` that is neither a code nor an ${group.name} constant`);
      continue;
    }
    const expected = nameOf.get(code);
    if (expected === undefined) continue; // NONE: not an error
    covered.add(code);
    if (c.text !== expected) out.push(`${fn} in ${group.file} calls code ${code} "${c.text}", but it is ${expected} in ${HOST_FILE}`);
  }
  for (const [code, name] of nameOf) {
    if (!covered.has(code)) out.push(`${fn} in ${group.file} has no case for ${name} (${code})`);
  }
  return out;
}

/** Every way `sdk` (laid out as `layout` says) disagrees with `host`, one message each (empty when they agree). */
export function compareAbi(host: HostAbi, sdk: SdkAbi, layout: SdkLayout = AS_LAYOUT): string[] {
  const out: string[] = [];
  const v = layout.version;
  const version = sdk.constants.find((c) => c.name === v);
  if (!version) out.push(`${layout.dir} declares no ${v} (it is ${host.version} in ${HOST_FILE})`);
  else if (version.value !== host.version) {
    out.push(literal(version, v) ?? `${v} is ${version.value} in ${version.file}, but ${host.version} in ${HOST_FILE}`);
  }

  out.push(...compareImports(host, sdk, layout));

  const alloc = sdk.functions.find((f) => f.name === host.allocExport);
  if (!alloc) out.push(`${layout.dir} defines no ${host.allocExport} function (EXPORTS.alloc in ${HOST_FILE})`);
  else if (signature(alloc.params, alloc.results) !== '(i32) -> i32') {
    out.push(`${host.allocExport} in ${alloc.file} is ${signature(alloc.params, alloc.results)}; the ABI calls it as (i32) -> i32`);
  }

  for (const { host: hostName, sdk: sdkName, sdkOnly = {} } of layout.groups) {
    const values = host.groups[hostName];
    if (!values) throw new Error(`HOST_ABI has no ${hostName}`);
    const found = sdk.groups.filter((g) => g.name === sdkName);
    if (found.length === 0) {
      out.push(`${layout.dir} declares no ${sdkName} (the copy of ${hostName} in ${HOST_FILE})`);
      continue;
    }
    if (found.length > 1) out.push(`${sdkName} is declared in more than one place: ${found.map((g) => g.file).join(', ')}`);
    out.push(...compareGroup(hostName, values, found[0]!, sdkOnly, layout));
    if (hostName === 'ABI_ERROR') out.push(...compareErrorNames(values, found[0]!, layout.errorNames));
  }
  return out;
}

/**
 * Where guest code compares a value with a negative number an ABI error code has (`== -2`, `case -7:`, and
 * Rust's `-7 =>`): it should say `AbiError.DENIED` (or the SDK's spelling, `spell(name)`). One message per
 * place.
 */
export function rawErrorCodes(
  file: { path: string; text: string },
  errors: Record<string, number> = abi.ABI_ERROR,
  spell: (name: string) => string = (name) => `AbiError.${name}`,
): string[] {
  const nameOf = new Map(Object.entries(errors).map(([name, code]) => [code, name]));
  const out: string[] = [];
  file.text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    for (const m of code.matchAll(/(?:[=!]=|\bcase)\s*(-\d+)\b|(-\d+)\s*=>/g)) {
      const number = m[1] ?? m[2]!;
      const name = nameOf.get(Number(number));
      if (name) out.push(`${file.path}:${i + 1} uses ${number}: write ${spell(name)}`);
    }
  });
  return out;
}

/**
 * scripts/build-guests.mjs keeps its own list of import names (`ABI_IMPORTS`) to check built modules early;
 * while it does, it must name exactly IMPORTS. Empty when it agrees or no longer keeps a list.
 */
export function compareBuildScript(file: { path: string; text: string }, host: HostAbi = HOST_ABI): string[] {
  const list = /const\s+ABI_IMPORTS\s*=\s*new\s+Set\(\[([^\]]*)\]\)/.exec(file.text);
  if (!list) return [];
  const names = new Set([...list[1]!.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]!));
  const out: string[] = [];
  for (const name of Object.keys(host.imports)) if (!names.has(name)) out.push(`ABI_IMPORTS in ${file.path} lacks ${name} (IMPORTS.${name} in ${HOST_FILE})`);
  for (const name of names) if (!(name in host.imports)) out.push(`ABI_IMPORTS in ${file.path} has ${name}, which is not in IMPORTS in ${HOST_FILE}`);
  return out;
}
