/**
 * The sandbox's cost per call: a guest that does one kv_get and answers, called through the full
 * runtime path (deadline, atomically, reset of a pooled instance), against the same logic as a
 * plain JS function over the same store. Also: compile time, and the fresh-instance path.
 *
 *   npm run build && node dist/bench/runtime-overhead.js
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import wabtInit from 'wabt';
import { MemoryStore, Runtime, generateSigningKey, signModule, type GuestHttpRequest } from '../src/runtime/index.js';

const KV_GUEST = `(module
  (import "ea" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 256) "counter")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (local $n i32)
    (local.set $n (call $kv_get (i32.const 256) (i32.const 7) (i32.const 12) (i32.const 64)))
    (i32.store (i32.const 0) (i32.add (i32.const 4) (local.get $n)))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Nanoseconds per iteration, median of `rounds` timed runs of `n` iterations each. */
function time(n: number, rounds: number, fn: () => void): number {
  for (let i = 0; i < n; i++) fn(); // warm up
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push(((performance.now() - t0) * 1e6) / n);
  }
  return median(samples);
}

export async function runtimeOverhead(): Promise<Record<string, number>> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('kv.wat', KV_GUEST, {});
  const wasm = new Uint8Array(parsed.toBinary({}).buffer);
  const key = generateSigningKey();
  const store = new MemoryStore();
  const counter = new TextEncoder().encode('counter');
  store.kvPut('kv@1.0.0', counter, new TextEncoder().encode('12345678'));
  const runtime = new Runtime({ store, trustedKeys: [key.publicKeyPem] });
  const bundle = { wasm, signatureFile: signModule(wasm, { name: 'kv', version: '1.0.0', limits: {}, capabilities: ['kv'] }, key.privateKeyPem) };
  const mod = await runtime.load(bundle, { grants: ['kv'] });
  const request: GuestHttpRequest = { method: 'GET', path: '/', query: '', contentType: '', principal: { kind: 'anonymous', subject: '' }, body: new Uint8Array(0) };

  const sandboxed = time(20_000, 7, () => {
    mod.invokeHttp(request);
  });

  // The same logic as a plain function: read the key inside a store transaction, build the answer.
  const plain = time(20_000, 7, () => {
    store.atomically(() => {
      const value = store.kvGet('kv@1.0.0', counter);
      return { status: 200, contentType: '', body: value ?? new Uint8Array(0), newEvents: [] };
    });
  });

  const results: Record<string, number> = {
    sandboxed_call_ns: sandboxed,
    plain_js_call_ns: plain,
    overhead_ns: sandboxed - plain,
  };

  // What the fuel instrumentation costs: a tight loop of 1,000,000 iterations, instrumented (through
  // the runtime) against the same module instantiated raw.
  const LOOP = `(module
    (memory (export "memory") 1 1)
    (func (export "ea_alloc") (param i32) (result i32) (i32.const 4096))
    (func (export "ea_on_http") (param i32 i32) (result i32)
      (local $i i32) (local $acc i32)
      (loop $l
        (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 3))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000))))
      (i32.store (i32.const 8) (local.get $acc))
      (i32.store (i32.const 0) (i32.const 8))
      (i32.store16 (i32.const 4) (i32.const 200))
      (i32.store16 (i32.const 6) (i32.const 0))
      (i32.const 0)))`;
  const loopParsed = wabt.parseWat('loop.wat', LOOP, {});
  const loopWasm = new Uint8Array(loopParsed.toBinary({}).buffer);
  const loopMod = await runtime.load(
    { wasm: loopWasm, signatureFile: signModule(loopWasm, { name: 'loop', version: '1.0.0', limits: {}, capabilities: [] }, key.privateKeyPem) },
  );
  const raw = new WebAssembly.Instance(new WebAssembly.Module(loopWasm), {}).exports as { ea_on_http: (p: number, l: number) => number };
  const instrumentedNs = time(20, 7, () => {
    loopMod.invokeHttp(request);
  });
  const rawNs = time(20, 7, () => {
    raw.ea_on_http(4096, 0);
  });
  results.fuel_loop_ns_per_iteration_instrumented = instrumentedNs / 1e6;
  results.fuel_loop_ns_per_iteration_raw = rawNs / 1e6;

  // Compile time of the real guests (instrumentation + V8 compile), fresh runtime each time.
  for (const name of ['example', 'aggregator']) {
    let guest: Uint8Array;
    try {
      guest = new Uint8Array(readFileSync(new URL(`../../build/guests/${name}.wasm`, import.meta.url)));
    } catch {
      continue;
    }
    const signatureFile = signModule(guest, { name, version: '1.0.0', limits: {}, capabilities: ['clock', 'config', 'events', 'kv', 'log', 'metrics'] }, key.privateKeyPem);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const rt = new Runtime({ store, trustedKeys: [key.publicKeyPem] });
      const t0 = performance.now();
      await rt.load({ wasm: guest, signatureFile });
      samples.push(performance.now() - t0);
    }
    results[`${name}_compile_ms`] = median(samples);
    results[`${name}_wasm_bytes`] = guest.length;
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runtimeOverhead();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(24)} ${v.toFixed(k.endsWith('bytes') ? 0 : 3)}`);
}
