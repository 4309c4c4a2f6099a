/**
 * The host side of ABI v1 for one instance, as src/runtime/host-imports.ts implements it on the node,
 * minus fuel: the module runs unchanged (not instrumented), and workerd's own CPU limit stops a runaway
 * call. Every pointer and length is checked against the guest's memory; every failure becomes one of the
 * closed set of ABI error codes here, in `hostCall`, and nowhere else.
 */
import { ABI_ERROR, APPEND_RESULT, IMPORT_CAPABILITY, LIMITS, LOG_LEVEL } from './abi.js';
import { StoreUnavailableError } from './sql-store.js';

/**
 * @typedef {import('./envelope.js').StoredEvent} StoredEvent
 * @typedef {{ hostCalls: number, newEvents: StoredEvent[], storeError: StoreUnavailableError | undefined,
 *   internalError: unknown }} CallContext
 * @typedef {{ store: import('./sql-store.js').SqlStore, namespace: string, stream: string,
 *   granted: ReadonlySet<string>, config: ReadonlyMap<string, string>, now: () => number,
 *   log: (level: number, message: string) => void, metricAllowed: (name: string) => boolean }} HostEnvironment
 */

// A leading U+FEFF is part of the guest's text, not a byte-order mark to strip.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
const METRIC_NAME_RE = /^[a-z0-9_]{1,64}$/;

class AbiFailure {
  constructor(code) {
    this.code = code;
  }
}

/** Thrown through the guest when the host itself failed; the call ends. */
export class HostAbort extends Error {
  name = 'HostAbort';
}

/** @returns {CallContext} */
export function newCallContext() {
  return { hostCalls: 0, newEvents: [], storeError: undefined, internalError: undefined };
}

/**
 * The `ea` import object of one instance. `memory()` is the instance's memory (known only after it is made).
 * @param {HostEnvironment} env @param {CallContext} ctx @param {() => WebAssembly.Memory} memory
 */
export function createHostImports(env, ctx, memory) {
  let view = new Uint8Array(0);
  const mem = () => {
    // Growing memory detaches the old buffer, which leaves the old view empty.
    if (view.byteLength === 0) view = new Uint8Array(memory().buffer);
    return view;
  };
  const fail = (code) => {
    throw new AbiFailure(code);
  };
  const range = (ptr, len, limit) => {
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (l > limit) fail(ABI_ERROR.TOO_LARGE);
    if (p + l > mem().length) fail(ABI_ERROR.OUT_OF_BOUNDS);
    return [p, l];
  };
  const bytes = (ptr, len, limit) => {
    const [p, l] = range(ptr, len, limit);
    return mem().slice(p, p + l);
  };
  const text = (ptr, len, limit) => {
    const [p, l] = range(ptr, len, limit);
    try {
      return decoder.decode(mem().subarray(p, p + l));
    } catch {
      return fail(ABI_ERROR.INVALID);
    }
  };
  const key = (ptr, len) => {
    if (len === 0) fail(ABI_ERROR.INVALID);
    return bytes(ptr, len, LIMITS.keyBytes);
  };
  /** Checks the output buffer first, then copies the value out if it fits; its length either way. */
  const output = (outPtr, outCap, lookup) => {
    const [p, cap] = range(outPtr, outCap, Number.MAX_SAFE_INTEGER);
    const value = lookup();
    if (value === undefined) return fail(ABI_ERROR.NOT_FOUND);
    if (value.length <= cap) mem().set(value, p);
    return value.length;
  };

  const hostCall = (name, body) => {
    if (++ctx.hostCalls > LIMITS.hostCallsPerCall) return ABI_ERROR.QUOTA;
    if (!env.granted.has(IMPORT_CAPABILITY[name])) return ABI_ERROR.DENIED;
    try {
      return body();
    } catch (error) {
      if (error instanceof AbiFailure) return error.code;
      if (error instanceof StoreUnavailableError) {
        ctx.storeError ??= error;
        return ABI_ERROR.UNAVAILABLE;
      }
      ctx.internalError ??= error;
      throw new HostAbort('host call failed', { cause: error });
    }
  };

  return {
    log: (level, ptr, len) =>
      hostCall('log', () => {
        if (level < LOG_LEVEL.debug || level > LOG_LEVEL.error) fail(ABI_ERROR.INVALID);
        env.log(level, text(ptr, len, LIMITS.logBytes));
        return 0;
      }),
    clock_now_ms: () => hostCall('clock_now_ms', () => Math.floor(env.now())),
    config_get: (kPtr, kLen, outPtr, outCap) =>
      hostCall('config_get', () => {
        const name = text(kPtr, kLen, LIMITS.configKeyBytes);
        return output(outPtr, outCap, () => {
          const value = env.config.get(name);
          return value === undefined ? undefined : encoder.encode(value);
        });
      }),
    kv_get: (kPtr, kLen, outPtr, outCap) =>
      hostCall('kv_get', () => {
        const k = key(kPtr, kLen);
        return output(outPtr, outCap, () => env.store.kvGet(env.namespace, k));
      }),
    kv_put: (kPtr, kLen, vPtr, vLen) =>
      hostCall('kv_put', () => {
        const k = key(kPtr, kLen);
        env.store.kvPut(env.namespace, k, bytes(vPtr, vLen, LIMITS.valueBytes));
        return 0;
      }),
    kv_delete: (kPtr, kLen) => hostCall('kv_delete', () => (env.store.kvDelete(env.namespace, key(kPtr, kLen)) ? 1 : 0)),
    kv_list: (pPtr, pLen, aPtr, aLen, outPtr, outCap) =>
      hostCall('kv_list', () => {
        const prefix = bytes(pPtr, pLen, LIMITS.keyBytes);
        const after = aLen === 0 ? undefined : bytes(aPtr, aLen, LIMITS.keyBytes);
        const [out, cap] = range(outPtr, outCap, Number.MAX_SAFE_INTEGER);
        if (cap < LIMITS.listBufferMin) fail(ABI_ERROR.INVALID);
        // Each entry takes at least 3 bytes, which bounds how many keys can fit.
        const keys = env.store.kvList(env.namespace, prefix, after, Math.floor(cap / 3));
        const m = mem();
        let pos = out;
        for (const k of keys) {
          if (pos - out + 2 + k.length > cap) break;
          m[pos] = k.length & 0xff;
          m[pos + 1] = k.length >>> 8;
          m.set(k, pos + 2);
          pos += 2 + k.length;
        }
        return pos - out;
      }),
    event_append: (pPtr, pLen, sPtr, sLen, timeMs, plPtr, plLen) =>
      hostCall('event_append', () => {
        if (pLen === 0 || sLen === 0) fail(ABI_ERROR.INVALID);
        const partition = text(pPtr, pLen, LIMITS.partitionBytes);
        const source = text(sPtr, sLen, LIMITS.sourceBytes);
        if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > Number.MAX_SAFE_INTEGER) fail(ABI_ERROR.INVALID);
        const payload = bytes(plPtr, plLen, LIMITS.payloadBytes);
        if (ctx.newEvents.length >= LIMITS.eventsPerCall) fail(ABI_ERROR.QUOTA);
        const event = { partition, source, timeMs, payload };
        const outcome = env.store.appendEvent(env.stream, event);
        if (outcome === 'new') ctx.newEvents.push(event);
        return APPEND_RESULT[outcome];
      }),
    metric_add: (nPtr, nLen, value) =>
      hostCall('metric_add', () => {
        const name = text(nPtr, nLen, LIMITS.metricNameBytes);
        if (!METRIC_NAME_RE.test(name) || !Number.isFinite(value)) fail(ABI_ERROR.INVALID);
        if (!env.metricAllowed(name)) return fail(ABI_ERROR.QUOTA);
        // Workers have no metrics endpoint of ours: the counter is checked and dropped (docs/workerd.md).
        return 0;
      }),
  };
}
