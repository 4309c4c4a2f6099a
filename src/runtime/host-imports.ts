/**
 * The host side of ABI v1 for one instance. Every pointer and length from the guest is checked
 * against its memory; every failure becomes one of the closed set of ABI error codes here, in
 * {@link hostCall}, and nowhere else.
 */
import { ABI_ERROR, APPEND_RESULT, LIMITS, LOG_LEVEL, type Capability, type HostImports } from './abi.js';
import { FuelExhausted, FuelTank, HOST_FUEL } from './fuel.js';
import { StoreUnavailableError, type GuestStore, type StoredEvent } from './store.js';

/** The state of the call in progress on an instance. */
export interface CallContext {
  /** The call's CPU budget; host calls are charged to it too. */
  fuel: FuelTank;
  hostCalls: number;
  newEvents: StoredEvent[];
  /** Counter increments made by the call, reported when it succeeds. */
  metrics: Array<[string, number]>;
  /** The store failure seen during the call: the call fails even if the guest ignores the code. */
  storeError: StoreUnavailableError | undefined;
  /** A host bug seen during the call. */
  internalError: unknown;
}

export interface HostEnvironment {
  store: GuestStore;
  /** `<name>@<version>`: the only kv namespace this instance reaches. */
  namespace: string;
  /** The event-log stream shared by every version of the module. */
  stream: string;
  granted: ReadonlySet<Capability>;
  config: ReadonlyMap<string, string>;
  now: () => number;
  log: (level: number, message: string) => void;
  /** Whether the module may use this counter name; false when it has used up its distinct names. */
  metricAllowed: (name: string) => boolean;
}

/** Thrown through the guest when the host itself failed; the call ends. */
class HostAbort extends Error {
  override name = 'HostAbort';
}

// A leading U+FEFF is part of the guest's text (a partition, a name), not a byte-order mark to strip.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
const METRIC_NAME_RE = /^[a-z0-9_]{1,64}$/;

class AbiFailure {
  constructor(readonly code: number) {}
}

/** A call's context with `budget` fuel, stopped by the wall clock after `backstopMs` in any case. */
export function newCallContext(budget: number, backstopMs: number): CallContext {
  return {
    fuel: new FuelTank(budget, backstopMs),
    hostCalls: 0,
    newEvents: [],
    metrics: [],
    storeError: undefined,
    internalError: undefined,
  };
}

/**
 * Builds the import object for one instance. `context()` gives the call in progress;
 * `memory()` the instance's memory (known only after instantiation).
 */
export function createHostImports(
  env: HostEnvironment,
  context: () => CallContext,
  memory: () => WebAssembly.Memory,
): { ea: HostImports; fuel: (counter: number) => number } {
  let view = new Uint8Array(0);
  const mem = (): Uint8Array => {
    // Growing memory detaches the old buffer, which leaves the old view empty.
    if (view.byteLength === 0) view = new Uint8Array(memory().buffer);
    return view;
  };
  const fail = (code: number): never => {
    throw new AbiFailure(code);
  };
  const range = (ptr: number, len: number, limit: number): [number, number] => {
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (l > limit) fail(ABI_ERROR.TOO_LARGE);
    if (p + l > mem().length) fail(ABI_ERROR.OUT_OF_BOUNDS);
    return [p, l];
  };
  /** Charges the copy of `n` bytes across the boundary. */
  const copied = (n: number): void => context().fuel.charge(n * HOST_FUEL.perByte);
  const bytes = (ptr: number, len: number, limit: number): Uint8Array => {
    const [p, l] = range(ptr, len, limit);
    copied(l);
    // A Buffer (from Node's pool for small sizes) rather than a Uint8Array: the store binds it as is.
    const copy = Buffer.allocUnsafe(l);
    copy.set(mem().subarray(p, p + l));
    return copy;
  };
  const text = (ptr: number, len: number, limit: number): string => {
    const [p, l] = range(ptr, len, limit);
    copied(l);
    try {
      return decoder.decode(mem().subarray(p, p + l));
    } catch {
      return fail(ABI_ERROR.INVALID);
    }
  };
  const key = (ptr: number, len: number): Uint8Array => {
    if (len === 0) fail(ABI_ERROR.INVALID);
    return bytes(ptr, len, LIMITS.keyBytes);
  };
  // Guests read their settings on every call (their memory starts afresh each time): encode each once.
  const encodedConfig = new Map<string, Uint8Array>();
  const configBytes = (name: string): Uint8Array | undefined => {
    let bytes = encodedConfig.get(name);
    if (bytes === undefined) {
      const value = env.config.get(name);
      if (value === undefined) return undefined;
      bytes = encoder.encode(value);
      encodedConfig.set(name, bytes);
    }
    return bytes;
  };
  /**
   * Checks the output buffer first (a bad buffer is reported even when there is nothing to copy),
   * then copies `lookup()`'s value out if it fits and returns its length either way (docs/abi.md, kv_get).
   */
  const output = (outPtr: number, outCap: number, lookup: () => Uint8Array | undefined): number => {
    const [p, cap] = range(outPtr, outCap, Number.MAX_SAFE_INTEGER);
    const value = lookup();
    if (value === undefined) return fail(ABI_ERROR.NOT_FOUND);
    copied(value.length);
    if (value.length <= cap) mem().set(value, p);
    return value.length;
  };

  /**
   * Runs one host call: its fuel (`cost` and the bytes it copies), capability check, quotas, and the
   * translation of every failure.
   */
  const hostCall = (capability: Capability, cost: number, body: () => number): number => {
    const ctx = context();
    ctx.fuel.charge(cost);
    if (++ctx.hostCalls > LIMITS.hostCallsPerCall) return ABI_ERROR.QUOTA;
    if (!env.granted.has(capability)) return ABI_ERROR.DENIED;
    try {
      return body();
    } catch (error) {
      if (error instanceof AbiFailure) return error.code;
      if (error instanceof FuelExhausted) throw error;
      if (error instanceof StoreUnavailableError) {
        ctx.storeError ??= error;
        return ABI_ERROR.UNAVAILABLE;
      }
      ctx.internalError ??= error;
      throw new HostAbort('host call failed', { cause: error });
    }
  };

  const ea: HostImports = {
    log: (level, ptr, len) =>
      hostCall('log', HOST_FUEL.call, () => {
        if (level < LOG_LEVEL.debug || level > LOG_LEVEL.error) fail(ABI_ERROR.INVALID);
        env.log(level, text(ptr, len, LIMITS.logBytes));
        return 0;
      }),
    clock_now_ms: () => hostCall('clock', HOST_FUEL.call, () => Math.floor(env.now())),
    config_get: (kPtr, kLen, outPtr, outCap) =>
      hostCall('config', HOST_FUEL.call, () => {
        const name = text(kPtr, kLen, LIMITS.configKeyBytes);
        return output(outPtr, outCap, () => configBytes(name));
      }),
    kv_get: (kPtr, kLen, outPtr, outCap) =>
      hostCall('kv', HOST_FUEL.storeRead, () => {
        const k = key(kPtr, kLen);
        return output(outPtr, outCap, () => env.store.kvGet(env.namespace, k));
      }),
    kv_put: (kPtr, kLen, vPtr, vLen) =>
      hostCall('kv', HOST_FUEL.storeWrite, () => {
        const k = key(kPtr, kLen);
        env.store.kvPut(env.namespace, k, bytes(vPtr, vLen, LIMITS.valueBytes));
        return 0;
      }),
    kv_delete: (kPtr, kLen) => hostCall('kv', HOST_FUEL.storeWrite, () => (env.store.kvDelete(env.namespace, key(kPtr, kLen)) ? 1 : 0)),
    kv_list: (pPtr, pLen, aPtr, aLen, outPtr, outCap) =>
      hostCall('kv', HOST_FUEL.storeRead, () => {
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
        copied(pos - out);
        return pos - out;
      }),
    event_append: (pPtr, pLen, sPtr, sLen, timeMs, plPtr, plLen) =>
      hostCall('events', HOST_FUEL.storeWrite, () => {
        const ctx = context();
        if (pLen === 0 || sLen === 0) fail(ABI_ERROR.INVALID);
        const partition = text(pPtr, pLen, LIMITS.partitionBytes);
        const source = text(sPtr, sLen, LIMITS.sourceBytes);
        if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > Number.MAX_SAFE_INTEGER) fail(ABI_ERROR.INVALID);
        const payload = bytes(plPtr, plLen, LIMITS.payloadBytes);
        if (ctx.newEvents.length >= LIMITS.eventsPerCall) fail(ABI_ERROR.QUOTA);
        const event: StoredEvent = { partition, source, timeMs, payload };
        const outcome = env.store.appendEvent(env.stream, event);
        if (outcome === 'new') ctx.newEvents.push(event);
        return APPEND_RESULT[outcome];
      }),
    metric_add: (nPtr, nLen, value) =>
      hostCall('metrics', HOST_FUEL.call, () => {
        const name = text(nPtr, nLen, LIMITS.metricNameBytes);
        if (!METRIC_NAME_RE.test(name) || !Number.isFinite(value)) fail(ABI_ERROR.INVALID);
        if (!env.metricAllowed(name)) return fail(ABI_ERROR.QUOTA);
        // Counted only if the call succeeds: a call that fails leaves no trace, metrics included.
        context().metrics.push([name, value]);
        return 0;
      }),
  };

  return { ea, fuel: (counter) => context().fuel.refill(counter) };
}
