/**
 * Every hostile behaviour in guests/hostile is contained: the call fails with its own code (or the
 * host call returns its ABI error), nothing the call wrote is kept, and the node keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { ABI_ERROR, DEFAULT_FUEL_PER_MS, GuestCallError, MemoryStore, ModuleLoadError, type CallReport, type GuestModule } from '../../src/runtime/index.js';
import { HOST_FUEL } from '../../src/runtime/fuel.js';
import { rejectionOf, thrownBy } from '../helpers/errors.js';
import { get, hostileWasm, i32s, loadWasm, testRuntime, wat } from '../helpers/guests.js';

/** A tiny well-behaved guest used to show the node still serves after a hostile call. */
const HEALTHY = wat(`(module
  (memory (export "memory") 1 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (i32.store (i32.const 0) (i32.const 4))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))`);

async function expectCallError(mod: GuestModule, path: string, code: string): Promise<GuestCallError> {
  const caught = thrownBy(() => mod.invokeHttp(get(path)));
  expect(caught).toBeInstanceOf(GuestCallError);
  expect((caught as GuestCallError).code).toBe(code);
  return caught as GuestCallError;
}

async function expectLoadError(wasm: Uint8Array, code: string, options: Parameters<typeof loadWasm>[1] = {}): Promise<ModuleLoadError> {
  const error = await rejectionOf(loadWasm(wasm, options));
  expect(error).toBeInstanceOf(ModuleLoadError);
  expect((error as ModuleLoadError).code).toBe(code);
  expect((error as ModuleLoadError).message).toContain('fix:');
  return error as ModuleLoadError;
}

async function stillServes(runtimeStore: MemoryStore): Promise<void> {
  const healthy = await loadWasm(HEALTHY, { store: runtimeStore, capabilities: [] });
  expect(healthy.invokeHttp(get('/')).status).toBe(200);
}

/** Loops forever over a 1 MiB memory.fill: few instructions, much work. */
const FILL_LOOP = wat(`(module
  (memory (export "memory") 16 16)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (loop $forever (memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576)) (br $forever))
    (i32.const 0)))`);

/** Calls clock_now_ms 1,000 times and answers 204. */
const CLOCK_CALLS = wat(`(module
  (import "ea" "clock_now_ms" (func $now (result f64)))
  (memory (export "memory") 1 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32) (local $i i32)
    (loop $l (drop (call $now)) (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.store (i32.const 0) (i32.const 4))
    (i32.store16 (i32.const 4) (i32.const 204))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))`);

describe('CPU deadline', () => {
  // A backstop far away, so that a busy machine cannot make the wall clock stop these first.
  const fuelOnly = () => testRuntime({ backstopFactor: 1000 });

  it('stops an infinite loop when its fuel runs out, and the same module serves again', async () => {
    const store = new MemoryStore();
    const reports: CallReport[] = [];
    const runtime = testRuntime({ store, backstopFactor: 1000, onCall: (r) => reports.push(r) });
    const mod = await loadWasm(hostileWasm('infinite-loop'), { runtime, capabilities: [], limits: { deadline_ms: 20 } });
    const started = performance.now();
    const error = await expectCallError(mod, '/', 'deadline_exceeded');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.limit).toBe('fuel');
    expect(error.message).toContain('CPU budget');
    expect(reports[0]!.fuelUsed).toBeGreaterThan(20 * DEFAULT_FUEL_PER_MS);
    await expectCallError(mod, '/', 'deadline_exceeded');
    await stillServes(store);
  });

  it('stops exponential recursion that has no loop instruction', async () => {
    const mod = await loadWasm(hostileWasm('recursion-no-loop'), { runtime: fuelOnly(), capabilities: [], limits: { deadline_ms: 20 } });
    expect((await expectCallError(mod, '/', 'deadline_exceeded')).limit).toBe('fuel');
  });

  it('stops a start function that never returns', async () => {
    const mod = await loadWasm(hostileWasm('start-loop'), { runtime: fuelOnly(), capabilities: [], limits: { deadline_ms: 20 } });
    expect((await expectCallError(mod, '/', 'deadline_exceeded')).limit).toBe('fuel');
  });

  it('charges bulk memory by its length: a loop of large fills is stopped by its fuel', async () => {
    const mod = await loadWasm(FILL_LOOP, { runtime: fuelOnly(), capabilities: [], limits: { deadline_ms: 20 } });
    expect((await expectCallError(mod, '/', 'deadline_exceeded')).limit).toBe('fuel');
  });

  it('charges host calls', async () => {
    const reports: CallReport[] = [];
    const mod = await loadWasm(CLOCK_CALLS, { capabilities: ['clock'], onCall: (r) => reports.push(r) });
    expect(mod.invokeHttp(get('/')).status).toBe(204);
    expect(reports[0]!.fuelUsed).toBeGreaterThan(1000 * HOST_FUEL.call);
  });

  it('stops what the fuel undercounts at the wall-clock backstop', async () => {
    const runtime = testRuntime({ fuelPerMs: 1e12 });
    const mod = await loadWasm(hostileWasm('infinite-loop'), { runtime, capabilities: [], limits: { deadline_ms: 20 } });
    const started = performance.now();
    const error = await expectCallError(mod, '/', 'deadline_exceeded');
    const elapsed = performance.now() - started;
    expect(error.limit).toBe('wall_clock');
    expect(error.message).toContain('2000 ms wall-clock backstop');
    expect(elapsed).toBeGreaterThanOrEqual(2000); // 10 times the deadline, but never under 2 s
    expect(elapsed).toBeLessThan(4000);
  });

  it('never grants more than the node maximum, whatever the manifest asks', async () => {
    const runtime = testRuntime({ maxDeadlineMs: 10 });
    const mod = await loadWasm(hostileWasm('infinite-loop'), { runtime, capabilities: [], limits: { deadline_ms: 10_000 } });
    const started = performance.now();
    const error = await expectCallError(mod, '/', 'deadline_exceeded');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.message).toContain(`${10 * DEFAULT_FUEL_PER_MS} fuel`);
  });
});

describe('memory cap', () => {
  it('memory.grow cannot pass the declared maximum', async () => {
    const mod = await loadWasm(hostileWasm('memory-grow'), { capabilities: [] });
    const res = mod.invokeHttp(get('/'));
    expect(res.status).toBe(200);
    expect(i32s(res.body)).toEqual([4]);
    // A grown instance is discarded: the next call starts at one page again.
    expect(i32s(mod.invokeHttp(get('/')).body)).toEqual([4]);
  });

  it('refuses a memory without a maximum', async () => {
    await expectLoadError(hostileWasm('memory-unbounded'), 'memory_unbounded', { capabilities: [] });
  });

  it('refuses a maximum above the node cap', async () => {
    await expectLoadError(hostileWasm('memory-over-cap'), 'memory_over_cap', { capabilities: [] });
  });

  it('refuses a maximum above the manifest limit', async () => {
    await expectLoadError(hostileWasm('memory-grow'), 'memory_over_cap', { capabilities: [], limits: { memory_bytes: 2 * 65536 } });
  });

  it('refuses a manifest that asks for more than the node cap', async () => {
    const runtime = testRuntime({ memoryCapBytes: 1024 * 1024 });
    await expectLoadError(hostileWasm('memory-grow'), 'memory_over_cap', { runtime, capabilities: [], limits: { memory_bytes: 2 * 1024 * 1024 } });
  });
});

describe('traps become error codes', () => {
  it.each([
    ['/unreachable', 'guest_trap'],
    ['/oob', 'guest_trap'],
    ['/div0', 'guest_trap'],
    ['/bad-frame', 'guest_bad_response'],
  ])('%s -> %s, and the next call is served', async (path, code) => {
    const mod = await loadWasm(hostileWasm('traps'), { capabilities: ['log'] });
    await expectCallError(mod, path, code);
    expect(mod.invokeHttp(get('/fine')).status).toBe(204);
  });

  it('stack overflow', async () => {
    const store = new MemoryStore();
    const mod = await loadWasm(hostileWasm('stack-overflow'), { store, capabilities: [] });
    await expectCallError(mod, '/', 'stack_overflow');
    await stillServes(store);
  });
});

describe('pointers and lengths handed to the host are checked', () => {
  it('returns OUT_OF_BOUNDS, TOO_LARGE and INVALID instead of touching memory outside the guest', async () => {
    const store = new MemoryStore();
    const mod = await loadWasm(hostileWasm('bad-pointers'), { store });
    const res = mod.invokeHttp(get('/'));
    expect(res.status).toBe(200);
    expect(i32s(res.body)).toEqual([
      ABI_ERROR.OUT_OF_BOUNDS, // key past the end
      ABI_ERROR.OUT_OF_BOUNDS, // negative pointer
      ABI_ERROR.TOO_LARGE, // 2 GiB value
      ABI_ERROR.OUT_OF_BOUNDS, // output buffer outside memory
      ABI_ERROR.OUT_OF_BOUNDS, // log message runs off the end
      ABI_ERROR.OUT_OF_BOUNDS, // kv_list buffer wraps around
      ABI_ERROR.OUT_OF_BOUNDS, // event payload outside memory
      ABI_ERROR.INVALID, // empty key
    ]);
    expect(store.kvList('test-guest@1.0.0', new Uint8Array(0), undefined, 10)).toEqual([]);
  });
});

describe('imports outside the ABI', () => {
  it('refuses a WASI import', async () => {
    const error = await expectLoadError(hostileWasm('forbidden-import'), 'import_not_allowed');
    expect(error.message).toContain('wasi_snapshot_preview1.fd_write');
  });

  it('refuses an ABI name with the wrong signature', async () => {
    await expectLoadError(hostileWasm('wrong-signature'), 'import_not_allowed');
  });

  it('refuses exception handling', async () => {
    await expectLoadError(hostileWasm('exceptions', { exceptions: true }), 'unsupported_feature', { capabilities: [] });
  });
});

describe('namespaces', () => {
  it('a guest cannot name a key of another namespace', async () => {
    const store = new MemoryStore();
    const secret = new TextEncoder().encode('secret');
    store.kvPut('other@1.0.0', secret, new TextEncoder().encode('the other module keeps this'));
    const mod = await loadWasm(hostileWasm('namespace-escape'), { store, name: 'escape' });
    const res = mod.invokeHttp(get('/'));
    expect(i32s(res.body)).toEqual([ABI_ERROR.NOT_FOUND, ABI_ERROR.NOT_FOUND, ABI_ERROR.NOT_FOUND, ABI_ERROR.NOT_FOUND]);
  });
});

describe('capabilities are denied by default', () => {
  it('refuses a module that imports a capability its manifest does not declare', async () => {
    await expectLoadError(hostileWasm('undeclared-capability'), 'capability_not_declared', { capabilities: ['clock'] });
  });

  it('returns DENIED for a declared capability the operator did not grant', async () => {
    const store = new MemoryStore();
    const mod = await loadWasm(hostileWasm('undeclared-capability'), { store, capabilities: ['kv', 'clock'], grants: [] });
    const body = mod.invokeHttp(get('/')).body;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    expect(view.getInt32(0, true)).toBe(ABI_ERROR.DENIED);
    expect(view.getFloat64(4, true)).toBe(ABI_ERROR.DENIED);
    expect(store.kvList('test-guest@1.0.0', new Uint8Array(0), undefined, 10)).toEqual([]);
  });

  it.each(['log', 'clock', 'config', 'kv', 'events', 'metrics'] as const)('denies %s unless granted', async (capability) => {
    const order = ['log', 'clock', 'config', 'kv', 'events', 'metrics'] as const;
    const all = [...order];
    // Everything granted except the one under test.
    const denied = await loadWasm(hostileWasm('all-capabilities'), { capabilities: all, grants: all.filter((c) => c !== capability), config: { name: 'v' }, now: () => 1234 });
    const codes = i32s(denied.invokeHttp(get('/')).body);
    expect(codes[order.indexOf(capability)]).toBe(ABI_ERROR.DENIED);
    for (const [i, c] of order.entries()) if (c !== capability) expect(codes[i], c).not.toBe(ABI_ERROR.DENIED);
  });

  it('grants exactly what was granted', async () => {
    const mod = await loadWasm(hostileWasm('undeclared-capability'), { capabilities: ['kv', 'clock'], grants: ['clock'], now: () => 1234 });
    const body = mod.invokeHttp(get('/')).body;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    expect(view.getInt32(0, true)).toBe(ABI_ERROR.DENIED);
    expect(view.getFloat64(4, true)).toBe(1234);
  });
});

describe('isolation between calls', () => {
  it('regression: reset restores globals as the start function left them, not their initialisers', async () => {
    // AssemblyScript's start function sets the heap offset; re-running initialisers put the heap at 0,
    // over static data.
    const wasm = wat(`(module
      (memory (export "memory") 1 1)
      (global $heap (mut i32) (i32.const 0))
      (func $start (global.set $heap (i32.const 4096)))
      (start $start)
      (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "ea_on_http") (param i32 i32) (result i32)
        (i32.store (i32.const 8) (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (i32.const 16)))
        (i32.store (i32.const 0) (i32.const 8))
        (i32.store16 (i32.const 4) (i32.const 200))
        (i32.store16 (i32.const 6) (i32.const 0))
        (i32.const 0)))`);
    const mod = await loadWasm(wasm, { capabilities: [] });
    for (let i = 0; i < 3; i++) expect(i32s(mod.invokeHttp(get('/')).body)).toEqual([4096]);
  });

  it('no global, data or heap byte written by one call is visible to the next', async () => {
    const mod = await loadWasm(hostileWasm('state-leak'), { capabilities: [] });
    for (let i = 0; i < 5; i++) expect(i32s(mod.invokeHttp(get('/')).body)).toEqual([1, 1, 1]);
  });
});
