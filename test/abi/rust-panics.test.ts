/**
 * A Rust guest's panics and errors become the ABI's error results, never a host crash: with `panic=abort` a
 * panic logs its message through `ea.log` and ends in `unreachable`, which the host reports as `guest_trap`
 * after rolling back the call's writes; the next call is served by a fresh instance.
 * The fixture is guests/rust/tests/panics.rs (build/test-guests/rust-panics.wasm).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestCallError, MemoryStore, type GuestModule } from '../../src/runtime/index.js';
import { ROOT, get, loadWasm } from '../helpers/guests.js';

async function fixture() {
  const store = new MemoryStore();
  const logs: Array<[number, string]> = [];
  const mod = await loadWasm(new Uint8Array(readFileSync(`${ROOT}build/test-guests/rust-panics.wasm`)), {
    name: 'rust-panics',
    store,
    capabilities: ['kv', 'log'],
    onLog: (_m, level, message) => logs.push([level, message]),
  });
  return { mod, store, logs, kv: (key: string) => store.kvGet(mod.namespace, Buffer.from(key)) };
}

function callError(fn: () => unknown): GuestCallError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GuestCallError);
    return error as GuestCallError;
  }
  throw new Error('the call succeeded');
}

function text(mod: GuestModule, path: string): string {
  return Buffer.from(mod.invokeHttp(get(path)).body).toString();
}

describe('Rust guest panics', () => {
  it('a panic is guest_trap: its message is logged, its writes are rolled back, the next call is served', async () => {
    const { mod, logs, kv } = await fixture();
    const error = callError(() => mod.invokeHttp(get('/panic')));
    expect(error.code).toBe('guest_trap');
    expect(error.message).toMatch(/unreachable/);
    expect(kv('written')).toBeUndefined();
    expect(logs).toEqual([[3, expect.stringMatching(/^guest panic: panicked at 'the guest gave up on purpose', .*panics\.rs:\d+:\d+$/)]]);
    expect(text(mod, '/ok')).toBe('ok');
  });

  it('an index out of bounds is a panic too', async () => {
    const { mod, logs } = await fixture();
    expect(text(mod, '/index?i=3')).toBe('in bounds');
    expect(callError(() => mod.invokeHttp(get('/index?i=4'))).code).toBe('guest_trap');
    expect(logs.at(-1)![1]).toMatch(/index out of bounds: the len is 4 but the index is 4/);
    expect(text(mod, '/ok')).toBe('ok');
  });

  it('memory past the maximum is a trap, not a crash; memory within it is fine', async () => {
    const { mod } = await fixture();
    expect(text(mod, '/alloc?mb=4')).toBe('allocated');
    expect(callError(() => mod.invokeHttp(get('/alloc?mb=32'))).code).toBe('guest_trap');
    expect(text(mod, '/ok')).toBe('ok');
  });

  it("a host error returned as the handler's Err is the SDK's JSON error response", async () => {
    const { mod } = await fixture();
    const res = mod.invokeHttp(get('/kv-error'));
    expect(res.status).toBe(400);
    expect(JSON.parse(Buffer.from(res.body).toString())).toEqual({ error: { code: 'invalid', message: 'a host call failed with INVALID' } });
  });

  it('ea_on_events: Err refuses the call (guest_refused), a panic traps (guest_trap), both roll back', async () => {
    const { mod, kv, logs } = await fixture();
    const event = (payload: string) => ({ partition: 'p', source: 's', timeMs: 1, payload: Buffer.from(payload) });
    mod.invokeEvents([event('a'), event('b')]);
    expect(Buffer.from(kv('events')!).toString()).toBe('2');
    expect(callError(() => mod.invokeEvents([event('a'), event('refuse')])).code).toBe('guest_refused');
    expect(logs.at(-1)).toEqual([3, 'ea_on_events refused: INVALID']);
    expect(callError(() => mod.invokeEvents([event('panic')])).code).toBe('guest_trap');
    expect(logs.at(-1)![1]).toMatch(/^guest panic: panicked at 'cannot fold this event'/);
    expect(Buffer.from(kv('events')!).toString()).toBe('2');
    mod.invokeEvents([event('c')]);
    expect(Buffer.from(kv('events')!).toString()).toBe('1');
  });
});
