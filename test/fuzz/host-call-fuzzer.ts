/**
 * Drives guests/hostile/call-fuzz.wat: many host calls with pseudo-random pointers, lengths and values
 * per guest call, for test/fuzz/host-calls.test.ts (FUZZ_HOST_CALLS=<n> runs more or fewer by hand).
 */
import { GuestCallError, MemoryStore, type GuestModule } from '../../src/runtime/index.js';
import { get, hostileWasm, i32s, loadWasm } from '../helpers/guests.js';

/** The imports of call-fuzz.wat, in its order (its `only` argument indexes this list). */
export const FUZZED_IMPORTS = ['log', 'clock_now_ms', 'config_get', 'kv_get', 'kv_put', 'kv_delete', 'kv_list', 'event_append', 'metric_add'] as const;

export interface FuzzTally {
  /** Host calls made. */
  calls: number;
  /** Of the kept guest calls: host calls answered >= 0, with an ABI error, with anything else. */
  ok: number;
  abiErrors: number;
  other: number;
  /** Guest calls that failed, by error code (not kept guest calls fail with guest_bad_response on purpose). */
  callErrors: Record<string, number>;
  /** Anything thrown that is not a GuestCallError. */
  escaped: unknown[];
}

export function loadCallFuzz(store = new MemoryStore()): Promise<GuestModule> {
  // A generous deadline: a thousand host calls of up to 128 KiB each is real work, not a runaway guest.
  return loadWasm(hostileWasm('call-fuzz'), { store, name: 'call-fuzz', config: { name: 'value' }, limits: { deadline_ms: 5_000 }, onLog: () => {} });
}

/** One guest call making `calls` host calls; `keep` commits what they did. */
export function fuzzCall(mod: GuestModule, seed: number, calls: number, only: number, keep: boolean, tally: FuzzTally): void {
  const body = new Uint8Array(16);
  const view = new DataView(body.buffer);
  view.setInt32(0, seed, true);
  view.setInt32(4, calls, true);
  view.setInt32(8, only, true);
  view.setInt32(12, keep ? 1 : 0, true);
  tally.calls += calls;
  try {
    const res = mod.invokeHttp({ ...get('/'), method: 'POST', body });
    const [ok, abi, other] = i32s(res.body);
    tally.ok += ok!;
    tally.abiErrors += abi!;
    tally.other += other!;
  } catch (error) {
    if (error instanceof GuestCallError) tally.callErrors[error.code] = (tally.callErrors[error.code] ?? 0) + 1;
    else tally.escaped.push(error);
  }
}

export function emptyTally(): FuzzTally {
  return { calls: 0, ok: 0, abiErrors: 0, other: 0, callErrors: {}, escaped: [] };
}
