/**
 * Regression (issue 16, item 7): the loader read names with a UTF-8 decoder that strips a leading
 * U+FEFF as a byte-order mark, so an export named "\uFEFFx" was written back as "x", and a module
 * exporting both failed to load. Names, and the text a guest hands the host, now keep every byte.
 */
import { describe, expect, it } from 'vitest';
import { ModuleLoadError } from '../../src/runtime/index.js';
import { instrumentModule } from '../../src/runtime/instrument.js';
import { rejectionOf } from '../helpers/errors.js';
import { get, loadWasm, wat } from '../helpers/guests.js';

const BOM = '\\ef\\bb\\bf'; // U+FEFF in UTF-8, as a WAT string escape

/** A guest that answers 200 with an empty body; `extra` adds fields to the module. */
function guest(extra: string, trigger = 'ea_on_http'): Uint8Array {
  return wat(`(module
    ${extra}
    (memory (export "memory") 1 1)
    (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "${trigger}") (param i32 i32) (result i32)
      (i32.store (i32.const 0) (i32.const 4))
      (i32.store16 (i32.const 4) (i32.const 200))
      (i32.store16 (i32.const 6) (i32.const 0))
      (i32.const 0)))`);
}

function exportNames(wasm: Uint8Array): string[] {
  return WebAssembly.Module.exports(new WebAssembly.Module(wasm as BufferSource)).map((e) => e.name);
}

describe('names keep a leading U+FEFF', () => {
  const both = guest(`(func (export "${BOM}x") (result i32) (i32.const 1)) (func (export "x") (result i32) (i32.const 2))`);

  it('the rewriter copies every export name byte for byte', () => {
    const names = exportNames(both);
    expect(names).toContain('\uFEFFx');
    const { wasm } = instrumentModule(both, { memoryCapBytes: 1 << 20 });
    expect(exportNames(wasm).slice(0, names.length)).toEqual(names);
  });

  it('loads and serves a module that exports both "\\uFEFFx" and "x"', async () => {
    const mod = await loadWasm(both, { capabilities: [] });
    expect(mod.invokeHttp(get('/')).status).toBe(200);
  });

  it('does not take "\\uFEFFea_on_http" for the trigger', async () => {
    const error = await rejectionOf(loadWasm(guest('', `${BOM}ea_on_http`), { capabilities: [] }));
    expect(error).toBeInstanceOf(ModuleLoadError);
    expect((error as ModuleLoadError).code).toBe('missing_export');
  });

  it('does not take an import from "\\uFEFFea" for an ABI import', async () => {
    const error = await rejectionOf(loadWasm(guest(`(import "${BOM}ea" "log" (func (param i32 i32 i32) (result i32)))`), { capabilities: ['log'] }));
    expect(error).toBeInstanceOf(ModuleLoadError);
    expect((error as ModuleLoadError).code).toBe('import_not_allowed');
  });

  it('keeps a leading U+FEFF in text the guest hands the host (an event partition)', async () => {
    const wasm = wat(`(module
      (import "ea" "event_append" (func $append (param i32 i32 i32 i32 f64 i32 i32) (result i32)))
      (memory (export "memory") 1 1)
      (data (i32.const 64) "${BOM}lab")
      (data (i32.const 96) "dev-1")
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "ea_on_http") (param i32 i32) (result i32)
        (i32.store (i32.const 8) (call $append (i32.const 64) (i32.const 6) (i32.const 96) (i32.const 5) (f64.const 1000) (i32.const 128) (i32.const 8)))
        (i32.store (i32.const 0) (i32.const 8))
        (i32.store16 (i32.const 4) (i32.const 200))
        (i32.store16 (i32.const 6) (i32.const 0))
        (i32.const 0)))`);
    const mod = await loadWasm(wasm, { capabilities: ['events'] });
    const res = mod.invokeHttp(get('/'));
    expect(res.newEvents.map((e) => e.partition)).toEqual(['\uFEFFlab']);
  });
});
