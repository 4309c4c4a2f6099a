/**
 * The Rust SDK (guests/rust) and the C SDK (guests/c) declare the same ABI as the host (src/runtime/abi.ts),
 * checked exactly as the AssemblyScript SDK is (abi-agreement.test.ts), and the check fails on drift.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HOST_ABI, compareAbi, rawErrorCodes } from './abi-agreement.js';
import { C_LAYOUT, C_SDK_FILE, RUST_LAYOUT, RUST_SDK_DIR, readCFile, readCSdk, readRustFile, readRustSdk, stripCode } from './native-sdk-reader.js';
import type { SourceFile } from './sdk-abi-reader.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function source(path: string): SourceFile {
  return { path, text: readFileSync(`${ROOT}${path}`, 'utf8') };
}

function filesUnder(dir: string, ext: string): SourceFile[] {
  return readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(ext))
    .sort()
    .map((name) => source(`${dir}/${name}`));
}

const rustFiles = (): SourceFile[] => filesUnder(RUST_SDK_DIR, '.rs');
const cFiles = (): SourceFile[] => [source(C_SDK_FILE)];

/** The Rust and C guests: every guests/<name> folder with src/*.rs or *.c, and the SDKs' test fixtures. */
function guestFiles(): SourceFile[] {
  return readdirSync(`${ROOT}guests`, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !['sdk', 'hostile', 'rust', 'c'].includes(d.name))
    .flatMap((d) => [...filesUnder(`guests/${d.name}`, '.rs'), ...filesUnder(`guests/${d.name}`, '.c')])
    .concat(filesUnder('guests/rust/tests', '.rs'));
}

const SDKS = [
  { name: 'Rust', layout: RUST_LAYOUT, files: rustFiles, read: readRustSdk, groups: ['error_code', 'limits', 'append_result', 'log_level', 'Method', 'Principal'] },
  { name: 'C', layout: C_LAYOUT, files: cFiles, read: readCSdk, groups: ['ea_error', 'ea_limit', 'ea_append', 'ea_level', 'ea_method', 'ea_principal'] },
];

describe.each(SDKS)('the $name SDK and the host declare the same ABI', ({ layout, files, read, groups }) => {
  it('agree on every import, error code, limit and constant', () => {
    expect(compareAbi(HOST_ABI, read(files()), layout)).toEqual([]);
  });

  it('the reading found every import and group it compares', () => {
    const sdk = read(files());
    expect(sdk.imports.map((i) => i.name).sort()).toEqual(Object.keys(HOST_ABI.imports).sort());
    for (const name of groups) expect(sdk.groups.find((g) => g.name === name)?.members.length, name).toBeGreaterThan(0);
    expect(sdk.groups.find((g) => g.name === groups[0])?.cases.length).toBeGreaterThanOrEqual(Object.keys(HOST_ABI.groups.ABI_ERROR!).length);
  });
});

describe('Rust and C guests', () => {
  it('write ABI error codes by name, not number', () => {
    const files = guestFiles();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files.flatMap((f) => rawErrorCodes(f, undefined, (n) => (f.path.endsWith('.c') ? `EA_ERROR_${n}` : `error_code::${n}`)))).toEqual([]);
  });
});

describe('the agreement check fails on drift', () => {
  function drifted(read: (files: SourceFile[]) => ReturnType<typeof readRustSdk>, files: SourceFile[], layout: typeof RUST_LAYOUT, file: string, from: string, to: string): string[] {
    const changed = files.map((f) => {
      if (f.path !== file) return f;
      expect(f.text.split(from).length - 1, `"${from}" in ${f.path}`).toBe(1);
      return { ...f, text: f.text.replace(from, to) };
    });
    return compareAbi(HOST_ABI, read(changed), layout);
  }

  const abiRs = `${RUST_SDK_DIR}/abi.rs`;
  const rustCases: Array<{ what: string; file: string; from: string; to: string; expected: string[] }> = [
    {
      what: 'an error code',
      file: abiRs,
      from: 'QUOTA: i32 = -7',
      to: 'QUOTA: i32 = -8',
      expected: [
        'error_code::QUOTA is -8 in guests/rust/src/abi.rs, but ABI_ERROR.QUOTA is -7 in src/runtime/abi.ts',
        'error_code::name() in guests/rust/src/abi.rs has no case for QUOTA (-7)',
      ],
    },
    {
      what: "an error code's name",
      file: abiRs,
      from: 'DENIED => "DENIED"',
      to: 'DENIED => "FORBIDDEN"',
      expected: ['error_code::name() in guests/rust/src/abi.rs calls code -2 "FORBIDDEN", but it is DENIED in src/runtime/abi.ts'],
    },
    {
      what: "an import's signature",
      file: abiRs,
      from: 'pub fn ea_metric_add(name_ptr: *const u8, name_len: i32, value: f64) -> i32;',
      to: 'pub fn ea_metric_add(name_ptr: *const u8, name_len: i32, value: f32) -> i32;',
      expected: ['import ea.metric_add is (i32, i32, f32) -> i32 in guests/rust/src/abi.rs, but IMPORTS.metric_add is (i32, i32, f64) -> i32 in src/runtime/abi.ts'],
    },
    {
      what: "an import's link name",
      file: abiRs,
      from: '#[link_name = "kv_delete"]',
      to: '#[link_name = "kv_remove"]',
      expected: [
        'ea_kv_delete in guests/rust/src/abi.rs imports ea.kv_remove, which is not in IMPORTS in src/runtime/abi.ts',
        'guests/rust/src declares no import ea.kv_delete (IMPORTS.kv_delete in src/runtime/abi.ts): add ea_kv_delete to guests/rust/src/abi.rs',
      ],
    },
    {
      what: "an import's module",
      file: abiRs,
      from: 'wasm_import_module = "ea"',
      to: 'wasm_import_module = "env"',
      expected: [
        ...Object.keys(HOST_ABI.imports).map((n) => `ea_${n} in guests/rust/src/abi.rs imports from module "env", but ABI_MODULE is "ea" in src/runtime/abi.ts`),
        ...Object.keys(HOST_ABI.imports).map((n) => `guests/rust/src declares no import ea.${n} (IMPORTS.${n} in src/runtime/abi.ts): add ea_${n} to guests/rust/src/abi.rs`),
      ],
    },
    {
      what: 'a limit',
      file: abiRs,
      from: 'LIST_BUFFER_MIN: usize = 514',
      to: 'LIST_BUFFER_MIN: usize = 512',
      expected: ['limits::LIST_BUFFER_MIN is 512 in guests/rust/src/abi.rs, but LIMITS.listBufferMin is 514 in src/runtime/abi.ts'],
    },
    {
      what: 'a limit it cannot read',
      file: abiRs,
      from: 'VALUE_BYTES: usize = 1048576',
      to: 'VALUE_BYTES: usize = 1 << 20',
      expected: ['limits::VALUE_BYTES in guests/rust/src/abi.rs is `1 << 20`, not an integer literal: write the number, so that the agreement test can read it'],
    },
    {
      what: 'a principal kind',
      file: abiRs,
      from: 'Admin = 4',
      to: 'Admin = 5',
      expected: ['Principal::Admin is 5 in guests/rust/src/abi.rs, but PRINCIPAL_KIND.admin is 4 in src/runtime/abi.ts'],
    },
    {
      what: 'the ABI version',
      file: abiRs,
      from: 'pub const ABI_VERSION: i32 = 1;',
      to: 'pub const ABI_VERSION: i32 = 2;',
      expected: ['ABI_VERSION is 2 in guests/rust/src/abi.rs, but 1 in src/runtime/abi.ts'],
    },
    {
      what: 'ea_alloc',
      file: `${RUST_SDK_DIR}/runtime.rs`,
      from: 'pub extern "C" fn ea_alloc(len: i32) -> i32',
      to: 'pub extern "C" fn ea_alloc(len: i64) -> i32',
      expected: ['ea_alloc in guests/rust/src/runtime.rs is (i64) -> i32; the ABI calls it as (i32) -> i32'],
    },
  ];

  it.each(rustCases)('Rust: $what', ({ file, from, to, expected }) => {
    expect(drifted(readRustSdk, rustFiles(), RUST_LAYOUT, file, from, to)).toEqual(expected);
  });

  const cCases: Array<{ what: string; from: string; to: string; expected: string[] }> = [
    {
      what: 'an error code',
      from: 'EA_ERROR_QUOTA = -7',
      to: 'EA_ERROR_QUOTA = -8',
      expected: [
        'EA_ERROR_QUOTA is -8 in guests/c/ea_guest.h, but ABI_ERROR.QUOTA is -7 in src/runtime/abi.ts',
        'ea_error_name() in guests/c/ea_guest.h has no case for QUOTA (-7)',
      ],
    },
    {
      what: "an error code's name",
      from: 'case EA_ERROR_DENIED: return "DENIED";',
      to: 'case EA_ERROR_DENIED: return "FORBIDDEN";',
      expected: ['ea_error_name() in guests/c/ea_guest.h calls code -2 "FORBIDDEN", but it is DENIED in src/runtime/abi.ts'],
    },
    {
      what: "an import's signature",
      from: 'EA_IMPORT("clock_now_ms") double ea_clock_now_ms(void);',
      to: 'EA_IMPORT("clock_now_ms") int64_t ea_clock_now_ms(void);',
      expected: ['import ea.clock_now_ms is () -> i64 in guests/c/ea_guest.h, but IMPORTS.clock_now_ms is () -> f64 in src/runtime/abi.ts'],
    },
    {
      what: 'a missing import',
      from: 'EA_IMPORT("kv_delete") int32_t ea_kv_delete(const void *key_ptr, int32_t key_len);',
      to: '',
      expected: ['guests/c/ea_guest.h declares no import ea.kv_delete (IMPORTS.kv_delete in src/runtime/abi.ts): add ea_kv_delete to guests/c/ea_guest.h'],
    },
    {
      what: "the imports' module",
      from: 'import_module("ea")',
      to: 'import_module("env")',
      expected: [
        ...['log', 'clock_now_ms', 'config_get', 'kv_get', 'kv_put', 'kv_delete', 'kv_list', 'event_append', 'metric_add'].map(
          (n) => `ea_${n} in guests/c/ea_guest.h imports from module "env", but ABI_MODULE is "ea" in src/runtime/abi.ts`,
        ),
        ...Object.keys(HOST_ABI.imports).map((n) => `guests/c/ea_guest.h declares no import ea.${n} (IMPORTS.${n} in src/runtime/abi.ts): add ea_${n} to guests/c/ea_guest.h`),
      ],
    },
    {
      what: 'a limit',
      from: 'EA_LIMIT_PAYLOAD_BYTES = 4096',
      to: 'EA_LIMIT_PAYLOAD_BYTES = 4097',
      expected: ['EA_LIMIT_PAYLOAD_BYTES is 4097 in guests/c/ea_guest.h, but LIMITS.payloadBytes is 4096 in src/runtime/abi.ts'],
    },
    {
      what: 'an HTTP method',
      from: '  EA_METHOD_HEAD = 5,\n',
      to: '',
      expected: ['EA_METHOD_HEAD is missing from guests/c/ea_guest.h (HTTP_METHOD.HEAD is 5 in src/runtime/abi.ts)'],
    },
    {
      what: 'a member the host does not have',
      from: '  EA_APPEND_CONFLICT = 2,\n',
      to: '  EA_APPEND_CONFLICT = 2,\n  EA_APPEND_LATE = 3,\n',
      expected: ['EA_APPEND_LATE = 3 in guests/c/ea_guest.h has no counterpart in APPEND_RESULT in src/runtime/abi.ts'],
    },
    {
      what: 'the ABI version',
      from: '#define EA_ABI_VERSION 1',
      to: '#define EA_ABI_VERSION 2',
      expected: ['EA_ABI_VERSION is 2 in guests/c/ea_guest.h, but 1 in src/runtime/abi.ts'],
    },
    {
      what: 'ea_alloc',
      from: 'EA_EXPORT("ea_alloc") int32_t ea_alloc(int32_t len)',
      to: 'EA_EXPORT("ea_alloc") int32_t ea_alloc(int64_t len)',
      expected: ['ea_alloc in guests/c/ea_guest.h is (i64) -> i32; the ABI calls it as (i32) -> i32'],
    },
  ];

  it.each(cCases)('C: $what', ({ from, to, expected }) => {
    expect(drifted(readCSdk, cFiles(), C_LAYOUT, C_SDK_FILE, from, to)).toEqual(expected);
  });

  it('Rust: raw error codes in match arms', () => {
    const text = ['match r {', '    -2 => Err(x),', '    n if n == -7 => 1,', '    0 => 2,', '}'].join('\n');
    expect(rawErrorCodes({ path: 'guests/g/src/lib.rs', text }, undefined, (n) => `error_code::${n}`)).toEqual([
      'guests/g/src/lib.rs:2 uses -2: write error_code::DENIED',
      'guests/g/src/lib.rs:3 uses -7: write error_code::QUOTA',
    ]);
  });
});

describe('reading Rust and C', () => {
  it("keeps lifetimes and character literals apart, and drops comments (not string contents)", () => {
    const text = "fn f<'a>(x: &'a [u8]) -> u8 { if x[0] == b'\"' { b'\\'' } else { '{' as u8 } } // }\nconst S: &str = \"/* no */\";";
    const stripped = stripCode(text);
    expect(stripped.length).toBe(text.length);
    expect(stripped).toContain('"/* no */"');
    expect(stripped).not.toContain('// }');
    const sdk = readRustFile({ path: 'a.rs', text: `${text}\npub mod m { pub const X: i32 = -3; }` });
    expect(sdk.groups.map((g) => [g.name, g.members.map((m) => [m.name, m.value])])).toEqual([['m', [['X', -3]]]]);
  });

  it('reads C enums with their prefix and implicit values', () => {
    const sdk = readCFile({ path: 'g.h', text: "enum ea_thing { EA_THING_A, EA_THING_B = 5, EA_THING_C };\nstatic int f(char c) { return c == '\"'; }\n#define EA_X 3" });
    expect(sdk.groups[0]!.members.map((m) => [m.name, m.value])).toEqual([['A', 0], ['B', 5], ['C', 6]]);
    expect(sdk.constants.map((c) => [c.name, c.value])).toEqual([['EA_X', 3]]);
  });
});
