/**
 * The SDK's copy of the ABI (guests/sdk, AssemblyScript) agrees with the host's declaration
 * (src/runtime/abi.ts), and the check that says so fails on every kind of drift.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HOST_ABI, SDK_DIR, compareAbi, compareBuildScript, rawErrorCodes } from './abi-agreement.js';
import { readSdkAbi, readSdkFile, stripComments, type SourceFile } from './sdk-abi-reader.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function source(path: string): SourceFile {
  return { path, text: readFileSync(`${ROOT}${path}`, 'utf8') };
}

/** The SDK's own files (not json/: no ABI there). */
function sdkFiles(): SourceFile[] {
  return readdirSync(`${ROOT}${SDK_DIR}`)
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => source(`${SDK_DIR}/${name}`));
}

/** The guests written with the SDK: every guests/<name>/*.ts but the SDK and the WAT test guests. */
function guestFiles(): SourceFile[] {
  return readdirSync(`${ROOT}guests`, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'sdk' && d.name !== 'hostile')
    .flatMap((d) => readdirSync(`${ROOT}guests/${d.name}`).filter((f) => f.endsWith('.ts')).map((f) => source(`guests/${d.name}/${f}`)));
}

describe('the SDK and the host declare the same ABI', () => {
  it('agree on every import, error code, limit and constant', () => {
    expect(compareAbi(HOST_ABI, readSdkAbi(sdkFiles()))).toEqual([]);
  });

  it('the reading found every import and group it compares', () => {
    const sdk = readSdkAbi(sdkFiles());
    expect(sdk.imports.map((i) => i.name).sort()).toEqual(Object.keys(HOST_ABI.imports).sort());
    for (const name of ['AbiError', 'Limits', 'AppendResult', 'log', 'Method', 'Principal']) {
      expect(sdk.groups.find((g) => g.name === name)?.members.length, name).toBeGreaterThan(0);
    }
  });

  it('guests write ABI error codes by name, not number', () => {
    expect(guestFiles().flatMap((f) => rawErrorCodes(f))).toEqual([]);
  });

  it("the build script's list of imports agrees", () => {
    expect(compareBuildScript(source('scripts/build-guests.mjs'))).toEqual([]);
  });
});

describe('the agreement check fails on drift', () => {
  /** The SDK's files with `from` replaced by `to` in `file` (`from` must occur exactly once). */
  function drifted(file: string, from: string, to: string): string[] {
    const files = sdkFiles().map((f) => {
      if (f.path !== `${SDK_DIR}/${file}`) return f;
      expect(f.text.split(from).length - 1, `"${from}" in ${f.path}`).toBe(1);
      return { ...f, text: f.text.replace(from, to) };
    });
    return compareAbi(HOST_ABI, readSdkAbi(files));
  }

  const cases: Array<{ what: string; file: string; from: string; to: string; expected: string[] }> = [
    {
      what: 'an error code',
      file: 'abi.ts',
      from: 'QUOTA: i32 = -7',
      to: 'QUOTA: i32 = -8',
      expected: [
        'AbiError.QUOTA is -8 in guests/sdk/abi.ts, but ABI_ERROR.QUOTA is -7 in src/runtime/abi.ts',
        'AbiError.name() in guests/sdk/abi.ts has no case for QUOTA (-7)',
      ],
    },
    {
      what: 'an error code the host does not have',
      file: 'abi.ts',
      from: '  export const QUOTA: i32 = -7;',
      to: '  export const QUOTA: i32 = -7;\n  export const BUSY: i32 = -8;',
      expected: ['AbiError.BUSY = -8 in guests/sdk/abi.ts has no counterpart in ABI_ERROR in src/runtime/abi.ts'],
    },
    {
      what: "an error code's name",
      file: 'abi.ts',
      from: 'case DENIED: return "DENIED";',
      to: 'case DENIED: return "FORBIDDEN";',
      expected: ['AbiError.name() in guests/sdk/abi.ts calls code -2 "FORBIDDEN", but it is DENIED in src/runtime/abi.ts'],
    },
    {
      what: "an import's signature",
      file: 'abi.ts',
      from: 'ea_kv_put(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32',
      to: 'ea_kv_put(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: f64): i32',
      expected: ['import ea.kv_put is (i32, i32, i32, f64) -> i32 in guests/sdk/abi.ts, but IMPORTS.kv_put is (i32, i32, i32, i32) -> i32 in src/runtime/abi.ts'],
    },
    {
      what: "an import's result",
      file: 'abi.ts',
      from: 'ea_clock_now_ms(): f64',
      to: 'ea_clock_now_ms(): i64',
      expected: ['import ea.clock_now_ms is () -> i64 in guests/sdk/abi.ts, but IMPORTS.clock_now_ms is () -> f64 in src/runtime/abi.ts'],
    },
    {
      what: 'a missing import',
      file: 'abi.ts',
      from: '@external("ea", "metric_add")\nexport declare function ea_metric_add(namePtr: usize, nameLen: i32, value: f64): i32;',
      to: '',
      expected: ['guests/sdk declares no import ea.metric_add (IMPORTS.metric_add in src/runtime/abi.ts): add ea_metric_add to guests/sdk/abi.ts'],
    },
    {
      what: "an import's module",
      file: 'abi.ts',
      from: '@external("ea", "log")',
      to: '@external("env", "log")',
      expected: [
        'ea_log in guests/sdk/abi.ts imports from module "env", but ABI_MODULE is "ea" in src/runtime/abi.ts',
        'guests/sdk declares no import ea.log (IMPORTS.log in src/runtime/abi.ts): add ea_log to guests/sdk/abi.ts',
      ],
    },
    {
      what: "an import's name",
      file: 'abi.ts',
      from: '@external("ea", "kv_delete")',
      to: '@external("ea", "kv_remove")',
      expected: [
        'ea_kv_delete in guests/sdk/abi.ts imports ea.kv_remove, which is not in IMPORTS in src/runtime/abi.ts',
        'guests/sdk declares no import ea.kv_delete (IMPORTS.kv_delete in src/runtime/abi.ts): add ea_kv_delete to guests/sdk/abi.ts',
      ],
    },
    {
      what: 'the ABI version',
      file: 'abi.ts',
      from: 'export const ABI_VERSION: i32 = 1;',
      to: 'export const ABI_VERSION: i32 = 2;',
      expected: ['ABI_VERSION is 2 in guests/sdk/abi.ts, but 1 in src/runtime/abi.ts'],
    },
    {
      what: 'ea_alloc',
      file: 'abi.ts',
      from: 'export function ea_alloc(len: i32): i32',
      to: 'export function ea_alloc(len: i64): i32',
      expected: ['ea_alloc in guests/sdk/abi.ts is (i64) -> i32; the ABI calls it as (i32) -> i32'],
    },
    {
      what: 'a limit',
      file: 'abi.ts',
      from: 'LIST_BUFFER_MIN: i32 = 514',
      to: 'LIST_BUFFER_MIN: i32 = 512',
      expected: ['Limits.LIST_BUFFER_MIN is 512 in guests/sdk/abi.ts, but LIMITS.listBufferMin is 514 in src/runtime/abi.ts'],
    },
    {
      what: 'a limit it cannot read',
      file: 'abi.ts',
      from: 'VALUE_BYTES: i32 = 1048576',
      to: 'VALUE_BYTES: i32 = 1024 * 1024',
      expected: ['Limits.VALUE_BYTES in guests/sdk/abi.ts is `1024 * 1024`, not an integer literal: write the number, so that the agreement test can read it'],
    },
    {
      what: 'a missing limit',
      file: 'abi.ts',
      from: '  export const TABLE_ENTRIES: i32 = 100000;\n',
      to: '',
      expected: ['Limits.tableEntries is missing from guests/sdk/abi.ts (LIMITS.tableEntries is 100000 in src/runtime/abi.ts)'],
    },
    {
      what: 'an append result',
      file: 'host.ts',
      from: 'CONFLICT: i32 = 2',
      to: 'CONFLICT: i32 = 3',
      expected: ['AppendResult.CONFLICT is 3 in guests/sdk/host.ts, but APPEND_RESULT.conflict is 2 in src/runtime/abi.ts'],
    },
    {
      what: 'a log level',
      file: 'host.ts',
      from: 'WARN: i32 = 2',
      to: 'WARN: i32 = 4',
      expected: ['log.WARN is 4 in guests/sdk/host.ts, but LOG_LEVEL.warn is 2 in src/runtime/abi.ts'],
    },
    {
      what: 'a principal kind',
      file: 'http.ts',
      from: 'Admin = 4',
      to: 'Admin = 5',
      expected: ['Principal.Admin is 5 in guests/sdk/http.ts, but PRINCIPAL_KIND.admin is 4 in src/runtime/abi.ts'],
    },
    {
      what: 'an HTTP method',
      file: 'http.ts',
      from: '  HEAD = 5,\n',
      to: '',
      expected: ['Method.HEAD is missing from guests/sdk/http.ts (HTTP_METHOD.HEAD is 5 in src/runtime/abi.ts)'],
    },
  ];

  it.each(cases)('$what', ({ file, from, to, expected }) => {
    expect(drifted(file, from, to)).toEqual(expected);
  });

  it('a group the SDK no longer declares', () => {
    const files = sdkFiles().map((f) => ({ ...f, text: f.text.replace('export namespace Limits', 'namespace Limits') }));
    expect(compareAbi(HOST_ABI, readSdkAbi(files))).toEqual(['guests/sdk declares no Limits (the copy of LIMITS in src/runtime/abi.ts)']);
  });

  it('raw error codes in guest code, not in comments or arithmetic', () => {
    const text = ['if (code == -2) {', '  x = -2 * y; // == -7', '  case -7: return 1;', 'if (n != -1) return;', 'if (k == -9) {'].join('\n');
    expect(rawErrorCodes({ path: 'guests/g/a.ts', text })).toEqual([
      'guests/g/a.ts:1 uses -2: write AbiError.DENIED',
      'guests/g/a.ts:3 uses -7: write AbiError.QUOTA',
      'guests/g/a.ts:4 uses -1: write AbiError.NOT_FOUND',
    ]);
  });

  it("the build script's list", () => {
    const text = "const ABI_IMPORTS = new Set([\n  'log', 'clock_now_ms', 'config_get', 'kv_get', 'kv_put', 'kv_delete', 'kv_list', 'event_append', 'metric_inc',\n]);";
    expect(compareBuildScript({ path: 'scripts/build-guests.mjs', text })).toEqual([
      'ABI_IMPORTS in scripts/build-guests.mjs lacks metric_add (IMPORTS.metric_add in src/runtime/abi.ts)',
      'ABI_IMPORTS in scripts/build-guests.mjs has metric_inc, which is not in IMPORTS in src/runtime/abi.ts',
    ]);
  });
});

describe('reading AssemblyScript', () => {
  it('drops comments but not string contents', () => {
    const text = 'const a = "// not a comment"; // a comment\n/* block\n */ const b = 1;';
    const stripped = stripComments(text);
    expect(stripped).toContain('"// not a comment"');
    expect(stripped).not.toContain('a comment\n');
    expect(stripped).not.toContain('block');
    expect(stripped.length).toBe(text.length);
  });

  it("follows AssemblyScript's defaults for imports and enums", () => {
    const sdk = readSdkFile({
      path: 'guests/x/imports.ts',
      text: [
        '@external("only_name") export declare function f(a: usize, b: u8, c: bool): void;',
        'export declare function g(x: f32): u64;',
        'export enum E { A, B = 5, C }',
      ].join('\n'),
    });
    expect(sdk.imports).toEqual([
      { module: 'imports', name: 'only_name', functionName: 'f', params: ['i32', 'i32', 'i32'], results: [], file: 'guests/x/imports.ts' },
      { module: 'imports', name: 'g', functionName: 'g', params: ['f32'], results: ['i64'], file: 'guests/x/imports.ts' },
    ]);
    expect(sdk.groups[0]!.members.map((m) => [m.name, m.value])).toEqual([['A', 0], ['B', 5], ['C', 6]]);
  });

  it('keeps namespace members out of the top level', () => {
    const sdk = readSdkFile({ path: 'a.ts', text: 'export const TOP: i32 = 1;\nexport namespace N {\n  export const INNER: i32 = -2;\n  export function f(): i32 { return 0; }\n}\n' });
    expect(sdk.constants.map((c) => c.name)).toEqual(['TOP']);
    expect(sdk.functions).toEqual([]);
    expect(sdk.groups[0]!.members.map((m) => [m.name, m.value])).toEqual([['INNER', -2]]);
  });
});
