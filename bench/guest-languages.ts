/**
 * The same ABI from three languages: module size, and the cost of a call through the full runtime path
 * (envelope, fuel, atomically, instance reset) for the AssemblyScript, Rust and C example guests, on a route
 * none of them knows (404: the call's own overhead) and on one kv read.
 *
 *   npm run build && node dist/bench/guest-languages.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryStore, Runtime, type GuestHttpRequest } from '../src/runtime/index.js';
import { BUILT_GUESTS } from '../src/node/index.js';

const GUESTS: Array<{ name: string; language: string; kvPath: string }> = [
  { name: 'example', language: 'AssemblyScript', kvPath: '/kv/k' },
  { name: 'rust-region-stats', language: 'Rust', kvPath: '/v1/regions/r' },
  { name: 'c-example', language: 'C', kvPath: '/hits/k' },
];

function request(path: string): GuestHttpRequest {
  return { method: 'GET', path, query: '', contentType: '', principal: { kind: 'read', subject: 'bench' }, body: new Uint8Array(0) };
}

/** Microseconds per call, median of 7 timed runs of `n` calls after a warm-up. */
function perCall(n: number, fn: () => void): number {
  for (let i = 0; i < n; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push(((performance.now() - t0) * 1000) / n);
  }
  return samples.sort((a, b) => a - b)[3]!;
}

export async function guestLanguages(): Promise<string[]> {
  const runtime = new Runtime({ store: new MemoryStore(), trustedKeys: [readFileSync(join(BUILT_GUESTS, 'build-key.pub.pem'), 'utf8')] });
  const lines = ['| Guest | Language | Module bytes | µs per call, unknown route (404) | µs per call, one kv read |', '|---|---|---:|---:|---:|'];
  for (const g of GUESTS) {
    const path = join(BUILT_GUESTS, `${g.name}.wasm`);
    const wasm = readFileSync(path);
    const mod = await runtime.load({ wasm, signatureFile: JSON.parse(readFileSync(`${path}.sig.json`, 'utf8')) }, { grants: ['clock', 'config', 'events', 'kv', 'log', 'metrics'] });
    const unknown = request('/nowhere');
    const kv = request(g.kvPath);
    const overhead = perCall(5_000, () => mod.invokeHttp(unknown));
    const kvRead = perCall(5_000, () => mod.invokeHttp(kv));
    lines.push(`| ${g.name} | ${g.language} | ${wasm.length.toLocaleString('en-US')} | ${overhead.toFixed(2)} | ${kvRead.toFixed(2)} |`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await guestLanguages()) console.log(line);
}
