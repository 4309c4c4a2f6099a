/**
 * Load-time checks and instrumentation of a guest module.
 *
 * Node's engine has no fuel metering and cannot interrupt a running Wasm function from the same
 * thread, so the loader rewrites the module:
 *
 * - every function body counts the instructions it runs down a fuel counter (a new mutable global,
 *   exported as `__ea_fuel` so that the host can zero it before a call and read it after); when the
 *   counter goes below zero the guest calls a new host import that hands out more of the call's fuel
 *   budget or throws (the call ends); see metering.ts;
 * - every mutable global gets a shadow global; a new exported `__ea_snapshot` copies the globals
 *   into their shadows right after instantiation (after the start function ran), and `__ea_reset`
 *   copies them back, so a pooled instance returns to exactly its post-instantiation state.
 *
 * Adding an import shifts every defined function's index by one, so every place that names a
 * function (calls, ref.func, exports, start, element segments) is renumbered. Instructions that
 * could escape the limits (exception handling can catch the host's exception; tail calls,
 * threads, GC) are refused. Names are copied byte for byte.
 */
import { ABI_MODULE, EXPORTS, IMPORTS, LIMITS, type Capability, type ImportName } from './abi.js';
import { ModuleLoadError } from './errors.js';
import { OP, decodeInstruction } from './instructions.js';
import { meterBody } from './metering.js';
import { ByteReader, ByteWriter, SECTION, VALTYPE, WasmFormatError, isValType } from './wasm-binary.js';

/** The import the instrumented code calls when its fuel counter goes below zero: `(overdraft: i32) -> i32`. */
export const FUEL_IMPORT = { module: '__ea_host', name: 'fuel' } as const;
/** The exported fuel counter: what the guest may still run before it calls {@link FUEL_IMPORT}. */
export const FUEL_EXPORT = '__ea_fuel';
export const RESET_EXPORT = '__ea_reset';
export const SNAPSHOT_EXPORT = '__ea_snapshot';

export interface ModuleInfo {
  /** The ABI functions the module imports. */
  imports: ImportName[];
  /** Capabilities those imports need. */
  capabilities: Set<Capability>;
  memory: { minPages: number; maxPages: number };
  hasHttpTrigger: boolean;
  hasEventsTrigger: boolean;
  /**
   * False when the module changes tables or drops segments at run time: state that `__ea_reset`
   * cannot restore, so such a module gets a fresh instance for every call.
   */
  poolable: boolean;
}

export interface InstrumentOptions {
  /** The largest memory the module may declare, in bytes. */
  memoryCapBytes: number;
}

interface FuncType {
  params: number[];
  results: number[];
}

const PAGE = 65536;

function fail(code: ConstructorParameters<typeof ModuleLoadError>[0], detail: string): never {
  throw new ModuleLoadError(code, detail);
}

/** Validates `bytes` against the ABI and returns the instrumented module with what was learnt. */
export function instrumentModule(bytes: Uint8Array, options: InstrumentOptions): { wasm: Uint8Array<ArrayBuffer>; info: ModuleInfo } {
  if (!WebAssembly.validate(bytes as BufferSource)) fail('invalid_module', 'the engine does not accept these bytes as a module');
  try {
    return new Instrumenter(bytes, options).run();
  } catch (error) {
    if (error instanceof WasmFormatError) {
      throw new ModuleLoadError('invalid_module', error.message, { cause: error });
    }
    throw error;
  }
}

class Instrumenter {
  private sections = new Map<number, Uint8Array>();
  private types: FuncType[] = [];
  private importedFuncs = 0;
  private definedFuncTypes: number[] = [];
  private globalCount = 0;
  private poolable = true;

  // Indices of what we add.
  private fuelTypeIdx = 0;
  private voidTypeIdx = 0;
  private fuelFuncIdx = 0;
  private fuelGlobalIdx = 0;
  private resetFuncIdx = 0;
  private mutableGlobals: Array<[number, number]> = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: InstrumentOptions,
  ) {}

  run(): { wasm: Uint8Array<ArrayBuffer>; info: ModuleInfo } {
    this.splitSections();
    if (this.sections.has(SECTION.tag)) fail('unsupported_feature', 'exception tags are not allowed');

    this.types = this.parseTypes();
    const { imports, capabilities } = this.parseImports();
    this.definedFuncTypes = this.parseFunctionSection();
    this.checkTables();
    const memory = this.checkMemory();
    this.mutableGlobals = this.parseGlobals();
    const exports = this.parseExports();

    const hasHttpTrigger = this.checkExport(exports, EXPORTS.onHttp, [VALTYPE.i32, VALTYPE.i32], [VALTYPE.i32], false);
    const hasEventsTrigger = this.checkExport(exports, EXPORTS.onEvents, [VALTYPE.i32, VALTYPE.i32], [VALTYPE.i32], false);
    this.checkExport(exports, EXPORTS.alloc, [VALTYPE.i32], [VALTYPE.i32], true);
    if (!hasHttpTrigger && !hasEventsTrigger) fail('missing_export', `no trigger: export ${EXPORTS.onHttp} or ${EXPORTS.onEvents}`);
    const memExport = exports.get(EXPORTS.memory);
    if (!memExport || memExport.kind !== 2) fail('memory_missing', 'the memory is not exported as `memory`');
    for (const name of exports.keys()) {
      if (name.startsWith('__ea_')) fail('invalid_module', `export name ${name} is reserved for the host`);
    }

    // What we add, appended so that no existing type or global index moves.
    this.fuelTypeIdx = this.types.length;
    this.voidTypeIdx = this.types.length + 1;
    this.fuelFuncIdx = this.importedFuncs; // appended after the guest's function imports
    this.fuelGlobalIdx = this.globalCount;
    this.resetFuncIdx = this.importedFuncs + 1 + this.definedFuncTypes.length;

    const out = new ByteWriter();
    out.bytes(this.bytes.subarray(0, 8));
    const emit = (id: number, content: Uint8Array | undefined): void => {
      if (content) out.u8(id).sized(content);
    };
    emit(SECTION.type, this.rewriteTypes());
    emit(SECTION.import, this.rewriteImports());
    emit(SECTION.function, this.rewriteFunctionSection());
    emit(SECTION.table, this.sections.get(SECTION.table));
    emit(SECTION.memory, this.sections.get(SECTION.memory));
    emit(SECTION.global, this.rewriteGlobals());
    emit(SECTION.export, this.rewriteExports());
    emit(SECTION.start, this.rewriteStart());
    emit(SECTION.element, this.rewriteElements());
    emit(SECTION.dataCount, this.sections.get(SECTION.dataCount));
    emit(SECTION.code, this.rewriteCode());
    emit(SECTION.data, this.sections.get(SECTION.data));
    // Custom sections (names, source maps) are dropped: their function indices would be stale.

    return {
      wasm: out.finish(),
      info: { imports, capabilities, memory, hasHttpTrigger, hasEventsTrigger, poolable: this.poolable },
    };
  }

  private splitSections(): void {
    const r = new ByteReader(this.bytes, 8);
    while (!r.done) {
      const id = r.u8();
      const size = r.u32();
      const content = r.bytesOf(size);
      if (id === SECTION.custom) continue;
      if (this.sections.has(id)) throw new WasmFormatError(`duplicate section ${id}`);
      this.sections.set(id, content);
    }
  }

  private reader(id: number): ByteReader | undefined {
    const content = this.sections.get(id);
    return content ? new ByteReader(content) : undefined;
  }

  private parseTypes(): FuncType[] {
    const r = this.reader(SECTION.type);
    if (!r) return [];
    const types: FuncType[] = [];
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const form = r.u8();
      if (form !== 0x60) fail('unsupported_feature', 'GC / recursive type definitions are not allowed');
      const params = this.valTypes(r);
      const results = this.valTypes(r);
      types.push({ params, results });
    }
    return types;
  }

  private valTypes(r: ByteReader): number[] {
    const n = r.u32();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = r.u8();
      if (!isValType(t)) fail('unsupported_feature', `value type 0x${t.toString(16)} is not allowed`);
      out.push(t);
    }
    return out;
  }

  private parseImports(): { imports: ImportName[]; capabilities: Set<Capability> } {
    const imports: ImportName[] = [];
    const capabilities = new Set<Capability>();
    const r = this.reader(SECTION.import);
    if (!r) return { imports, capabilities };
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const module = r.name();
      const name = r.name();
      const kind = r.u8();
      const where = `${module}.${name}`;
      if (kind !== 0) fail('import_not_allowed', `${where} imports a ${['function', 'table', 'memory', 'global', 'tag'][kind] ?? 'thing'}; only functions may be imported`);
      const typeIdx = r.u32();
      if (module !== ABI_MODULE || !Object.hasOwn(IMPORTS, name)) {
        fail('import_not_allowed', `${where} is not part of ABI v1`);
      }
      const spec = IMPORTS[name as ImportName];
      const type = this.types[typeIdx];
      const expected = { params: spec.params.map(code), results: spec.results.map(code) };
      if (!type || !sameType(type, expected)) {
        fail('import_not_allowed', `${where} has signature ${describe(type)}, ABI v1 declares ${describe(expected)}`);
      }
      imports.push(name as ImportName);
      capabilities.add(spec.capability);
      this.importedFuncs++;
    }
    return { imports, capabilities };
  }

  private parseFunctionSection(): number[] {
    const r = this.reader(SECTION.function);
    if (!r) return [];
    const count = r.u32();
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(r.u32());
    return out;
  }

  private checkTables(): void {
    const r = this.reader(SECTION.table);
    if (!r) return;
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const refType = r.u8();
      if (refType === 0x40) {
        // table with an initialiser expression (function-references proposal)
        fail('unsupported_feature', 'tables with initialiser expressions are not allowed');
      }
      if (refType !== VALTYPE.funcref && refType !== VALTYPE.externref) fail('unsupported_feature', 'typed function references are not allowed');
      const flags = r.u8();
      if (flags > 1) fail('unsupported_feature', 'shared or 64-bit tables are not allowed');
      r.u32();
      if (flags === 0) fail('table_unbounded', `table ${i} has no maximum`);
      const max = r.u32();
      if (max > LIMITS.tableEntries) fail('table_unbounded', `table ${i} may grow to ${max} entries`);
    }
  }

  private checkMemory(): { minPages: number; maxPages: number } {
    const r = this.reader(SECTION.memory);
    const count = r ? r.u32() : 0;
    if (!r || count === 0) fail('memory_missing', 'the module defines no memory');
    if (count > 1) fail('memory_missing', 'the module defines more than one memory');
    const flags = r.u8();
    if (flags === 2 || flags === 3) fail('unsupported_feature', 'shared memory (threads) is not allowed');
    if (flags > 3) fail('unsupported_feature', '64-bit memory is not allowed');
    const minPages = r.u32();
    if (flags === 0) fail('memory_unbounded', 'the memory declares no maximum');
    const maxPages = r.u32();
    const capPages = Math.floor(this.options.memoryCapBytes / PAGE);
    if (maxPages > capPages) {
      fail('memory_over_cap', `the memory may grow to ${maxPages} pages (${maxPages * 64} KiB); the cap is ${capPages} pages`);
    }
    return { minPages, maxPages };
  }

  /** Returns the mutable globals as [index, value type]. */
  private parseGlobals(): Array<[number, number]> {
    const r = this.reader(SECTION.global);
    if (!r) return [];
    const count = r.u32();
    const mutable: Array<[number, number]> = [];
    for (let i = 0; i < count; i++) {
      const t = r.u8();
      if (!isValType(t)) fail('unsupported_feature', `global type 0x${t.toString(16)} is not allowed`);
      const mut = r.u8();
      this.skipConstExpr(r);
      if (mut === 1) mutable.push([i, t]);
    }
    this.globalCount = count;
    return mutable;
  }

  private parseExports(): Map<string, { kind: number; index: number }> {
    const r = this.reader(SECTION.export);
    const out = new Map<string, { kind: number; index: number }>();
    if (!r) return out;
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const name = r.name();
      const kind = r.u8();
      const index = r.u32();
      out.set(name, { kind, index });
    }
    return out;
  }

  private checkExport(
    exports: Map<string, { kind: number; index: number }>,
    name: string,
    params: number[],
    results: number[],
    required: boolean,
  ): boolean {
    const e = exports.get(name);
    if (!e) {
      if (required) fail('missing_export', `no export named ${name}`);
      return false;
    }
    const defined = e.index - this.importedFuncs;
    const type = e.kind === 0 && defined >= 0 ? this.types[this.definedFuncTypes[defined] ?? -1] : undefined;
    if (!type || !sameType(type, { params, results })) {
      fail('missing_export', `${name} must be a function ${describe({ params, results })}, found ${describe(type)}`);
    }
    return true;
  }

  private shiftFunc(index: number): number {
    return index >= this.importedFuncs ? index + 1 : index;
  }

  private rewriteTypes(): Uint8Array {
    const w = new ByteWriter().u32(this.types.length + 2);
    const r = this.reader(SECTION.type);
    if (r) {
      r.u32();
      w.bytes(r.bytes.subarray(r.pos));
    }
    w.u8(0x60).u32(1).u8(VALTYPE.i32).u32(1).u8(VALTYPE.i32); // fuel: (i32) -> i32
    w.u8(0x60).u32(0).u32(0); // reset: () -> ()
    return w.finish();
  }

  private rewriteImports(): Uint8Array {
    const r = this.reader(SECTION.import);
    const count = r ? r.u32() : 0;
    const w = new ByteWriter().u32(count + 1);
    if (r) w.bytes(r.bytes.subarray(r.pos));
    w.name(FUEL_IMPORT.module).name(FUEL_IMPORT.name).u8(0).u32(this.fuelTypeIdx);
    return w.finish();
  }

  private rewriteFunctionSection(): Uint8Array {
    const w = new ByteWriter().u32(this.definedFuncTypes.length + 2);
    for (const t of this.definedFuncTypes) w.u32(t);
    w.u32(this.voidTypeIdx).u32(this.voidTypeIdx); // __ea_reset, __ea_snapshot
    return w.finish();
  }

  private rewriteGlobals(): Uint8Array {
    const r = this.reader(SECTION.global);
    const w = new ByteWriter().u32(this.globalCount + 1 + this.mutableGlobals.length);
    if (r) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        w.u8(r.u8()).u8(r.u8());
        const start = r.pos;
        this.skipConstExpr(r);
        w.bytes(this.rewriteExpr(r.bytes.subarray(start, r.pos)));
      }
    }
    // The fuel counter starts empty: the first check asks the host for fuel.
    w.u8(VALTYPE.i32).u8(1).u8(0x41).u8(0).u8(0x0b);
    // Shadows start at zero; __ea_snapshot fills them after instantiation.
    for (const [, type] of this.mutableGlobals) w.u8(type).u8(1).bytes(zeroExpr(type)).u8(0x0b);
    return w.finish();
  }

  private rewriteExports(): Uint8Array {
    const r = this.reader(SECTION.export)!;
    const count = r.u32();
    const w = new ByteWriter().u32(count + 3);
    for (let i = 0; i < count; i++) {
      const name = r.nameBytes();
      const kind = r.u8();
      const index = r.u32();
      w.sized(name).u8(kind).u32(kind === 0 ? this.shiftFunc(index) : index);
    }
    w.name(RESET_EXPORT).u8(0).u32(this.resetFuncIdx);
    w.name(SNAPSHOT_EXPORT).u8(0).u32(this.resetFuncIdx + 1);
    w.name(FUEL_EXPORT).u8(3).u32(this.fuelGlobalIdx);
    return w.finish();
  }

  private rewriteStart(): Uint8Array | undefined {
    const r = this.reader(SECTION.start);
    if (!r) return undefined;
    return new ByteWriter().u32(this.shiftFunc(r.u32())).finish();
  }

  private rewriteElements(): Uint8Array | undefined {
    const r = this.reader(SECTION.element);
    if (!r) return undefined;
    const count = r.u32();
    const w = new ByteWriter().u32(count);
    const copyExpr = (): void => {
      const start = r.pos;
      this.skipConstExpr(r);
      w.bytes(this.rewriteExpr(r.bytes.subarray(start, r.pos)));
    };
    for (let i = 0; i < count; i++) {
      const flags = r.u32();
      w.u32(flags);
      if (flags > 7) throw new WasmFormatError(`bad element segment flags ${flags}`);
      const active = (flags & 1) === 0;
      const explicitTable = (flags & 2) !== 0;
      const usesExprs = (flags & 4) !== 0;
      if (active && explicitTable) w.u32(r.u32());
      if (active) copyExpr();
      if (!active || explicitTable) w.u8(r.u8()); // elemkind or reftype
      const n = r.u32();
      w.u32(n);
      for (let j = 0; j < n; j++) {
        if (usesExprs) copyExpr();
        else w.u32(this.shiftFunc(r.u32()));
      }
    }
    return w.finish();
  }

  private rewriteCode(): Uint8Array {
    const r = this.reader(SECTION.code);
    const count = r ? r.u32() : 0;
    if (count !== this.definedFuncTypes.length) throw new WasmFormatError('function and code section counts differ');
    const w = new ByteWriter().u32(count + 2);
    const layout = { fuelGlobal: this.fuelGlobalIdx, refillFunc: this.fuelFuncIdx, shiftFunc: (index: number) => this.shiftFunc(index) };
    for (let i = 0; i < count; i++) {
      const size = r!.u32();
      const params = this.types[this.definedFuncTypes[i]!]?.params.length ?? 0;
      const metered = meterBody(r!.bytesOf(size), params, layout);
      if (metered.changesTables) this.poolable = false;
      w.sized(metered.body);
    }
    // __ea_reset copies each shadow back into its global; __ea_snapshot the other way.
    const reset = new ByteWriter().u32(0);
    const snapshot = new ByteWriter().u32(0);
    this.mutableGlobals.forEach(([index], i) => {
      const shadow = this.fuelGlobalIdx + 1 + i;
      reset.u8(0x23).u32(shadow).u8(0x24).u32(index);
      snapshot.u8(0x23).u32(index).u8(0x24).u32(shadow);
    });
    w.sized(reset.u8(0x0b).finish());
    w.sized(snapshot.u8(0x0b).finish());
    return w.finish();
  }

  /** Rewrites a constant expression (function indices shifted; no loops there). */
  private rewriteExpr(expr: Uint8Array): Uint8Array {
    const r = new ByteReader(expr);
    const w = new ByteWriter();
    while (!r.done) {
      const instr = decodeInstruction(r);
      if (instr.func !== undefined) w.u8(instr.op).u32(this.shiftFunc(instr.func));
      else w.bytes(expr.subarray(instr.start, instr.end));
    }
    return w.finish();
  }

  private skipConstExpr(r: ByteReader): void {
    // Const expressions end at the first `end` at depth 0 and contain no blocks.
    while (decodeInstruction(r).op !== OP.end);
  }
}

/** A constant expression (without `end`) for the zero value of a value type. */
function zeroExpr(type: number): Uint8Array {
  switch (type) {
    case VALTYPE.i32: return Uint8Array.of(0x41, 0);
    case VALTYPE.i64: return Uint8Array.of(0x42, 0);
    case VALTYPE.f32: return Uint8Array.of(0x43, 0, 0, 0, 0);
    case VALTYPE.f64: return Uint8Array.of(0x44, 0, 0, 0, 0, 0, 0, 0, 0);
    case VALTYPE.v128: return Uint8Array.of(0xfd, 12, ...new Array<number>(16).fill(0));
    default: return Uint8Array.of(0xd0, type); // ref.null funcref / externref
  }
}

function code(t: 'i32' | 'f64'): number {
  return VALTYPE[t];
}

function sameType(a: FuncType, b: FuncType): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) && a.results.every((p, i) => p === b.results[i]);
}

const VALTYPE_NAMES = new Map<number, string>(Object.entries(VALTYPE).map(([k, v]) => [v, k]));

function describe(t: FuncType | undefined): string {
  if (!t) return 'nothing';
  const names = (xs: number[]): string => xs.map((x) => VALTYPE_NAMES.get(x) ?? '?').join(', ');
  return `(${names(t.params)}) -> (${names(t.results)})`;
}
