// Typed wrappers for every host import. Keys and names may be given as `string` (encoded as UTF-8) or as
// `Uint8Array`.
//
// Errors: a wrapper that gets an error code returns null / a negative number and records the code (see
// lastError() and AbiError). UNAVAILABLE (the store failed) aborts the call by default, so the host rolls it
// back and answers 503; call setTrapOnUnavailable(false) to handle it yourself.

import {
  ea_log, ea_clock_now_ms, ea_config_get, ea_kv_get, ea_kv_put, ea_kv_delete, ea_kv_list, ea_event_append,
  ea_metric_add, AbiError, Limits, hostError, hostOk,
} from "./abi";

/** The bytes of a string (UTF-8) or a Uint8Array. */
// @ts-ignore: decorator
@inline function asBytes<K>(key: K): Uint8Array {
  if (isString<K>()) {
    return Uint8Array.wrap(String.UTF8.encode(changetype<string>(key), false, String.UTF8.ErrorMode.REPLACE));
  } else if (key instanceof Uint8Array) {
    return changetype<Uint8Array>(key);
  } else {
    ERROR("expected a string or a Uint8Array");
    return unreachable();
  }
}

// A scratch buffer for reads of unknown size; results are copied out of it.
const SCRATCH_CAP: i32 = 1024;
// @ts-ignore: decorator
@lazy const scratch: usize = memory.data(SCRATCH_CAP);

/**
 * Calls a "get"-style import (kv_get, config_get): result length n, copied only if n <= cap; retried with a
 * buffer of n bytes otherwise.
 */
function readValue(kind: i32, kp: usize, kl: i32, what: string): Uint8Array | null {
  let n = kind == 0 ? ea_kv_get(kp, kl, scratch, SCRATCH_CAP) : ea_config_get(kp, kl, scratch, SCRATCH_CAP);
  if (n < 0) {
    hostError(n, what);
    return null;
  }
  if (n <= SCRATCH_CAP) {
    hostOk();
    const out = new Uint8Array(n);
    memory.copy(out.dataStart, scratch, <usize>n);
    return out;
  }
  while (true) {
    const out = new Uint8Array(n);
    const m = kind == 0 ? ea_kv_get(kp, kl, out.dataStart, n) : ea_config_get(kp, kl, out.dataStart, n);
    if (m < 0) {
      hostError(m, what);
      return null;
    }
    if (m <= n) {
      hostOk();
      return m == n ? out : out.subarray(0, m);
    }
    n = m; // it grew in between: try again
  }
}

export namespace kv {
  /** The value under `key`, or null (NOT_FOUND, or an error: see lastError()). */
  export function get<K>(key: K): Uint8Array | null {
    const k = asBytes<K>(key);
    return readValue(0, k.dataStart, k.length, "kv_get");
  }

  /** The value under `key` decoded as UTF-8, or null. */
  export function getString<K>(key: K): string | null {
    const v = get<K>(key);
    if (v == null) return null;
    return String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length, false);
  }

  /**
   * Raw form: reads into [out, out+cap). Returns the value's length (copied only if it fits) or an error code
   * (NOT_FOUND included).
   */
  export function getInto(keyPtr: usize, keyLen: i32, out: usize, cap: i32): i32 {
    const n = ea_kv_get(keyPtr, keyLen, out, cap);
    if (n < 0) {
      if (n == AbiError.NOT_FOUND) return n;
      return hostError(n, "kv_get");
    }
    hostOk();
    return n;
  }

  /** Stores `value` under `key`. Returns 0 or an error code. */
  export function put<K, V>(key: K, value: V): i32 {
    const k = asBytes<K>(key);
    const v = asBytes<V>(value);
    return putRaw(k.dataStart, k.length, v.dataStart, v.length);
  }

  export function putRaw(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32 {
    const r = ea_kv_put(keyPtr, keyLen, valPtr, valLen);
    if (r < 0) return hostError(r, "kv_put");
    hostOk();
    return r;
  }

  /** Deletes `key`: 1 if it existed, 0 if not, or an error code. */
  export function del<K>(key: K): i32 {
    const k = asBytes<K>(key);
    const r = ea_kv_delete(k.dataStart, k.length);
    if (r < 0) return hostError(r, "kv_delete");
    hostOk();
    return r;
  }

  /**
   * One page of the keys that start with `prefix` and sort strictly after `after` (null: from the start), in
   * byte order. An empty array means there are no more; null means an error (see lastError()).
   */
  export function list<K>(prefix: K, after: Uint8Array | null = null, pageBytes: i32 = 8192): Array<Uint8Array> | null {
    const p = asBytes<K>(prefix);
    if (pageBytes < Limits.LIST_BUFFER_MIN) pageBytes = Limits.LIST_BUFFER_MIN;
    const out = heap.alloc(<usize>pageBytes);
    const n = after == null
      ? ea_kv_list(p.dataStart, p.length, 0, 0, out, pageBytes)
      : ea_kv_list(p.dataStart, p.length, after.dataStart, after.length, out, pageBytes);
    if (n < 0) {
      hostError(n, "kv_list");
      return null;
    }
    hostOk();
    const keys = new Array<Uint8Array>();
    let pos = out;
    const end = out + <usize>n;
    while (pos + 2 <= end) {
      const len = <i32>load<u16>(pos);
      pos += 2;
      if (pos + <usize>len > end) break;
      const key = new Uint8Array(len);
      memory.copy(key.dataStart, pos, <usize>len);
      keys.push(key);
      pos += <usize>len;
    }
    return keys;
  }

  /** Raw form of kv_list: fills [out, out+cap) with entries (u16 length + key bytes). Returns bytes or an error. */
  export function listInto(prefixPtr: usize, prefixLen: i32, afterPtr: usize, afterLen: i32, out: usize, cap: i32): i32 {
    const n = ea_kv_list(prefixPtr, prefixLen, afterPtr, afterLen, out, cap);
    if (n < 0) return hostError(n, "kv_list");
    hostOk();
    return n;
  }
}

/** Result of events.append: NEW, DUPLICATE, CONFLICT, or a negative AbiError code (APPEND_RESULT on the host). */
export namespace AppendResult {
  export const NEW: i32 = 0;
  export const DUPLICATE: i32 = 1;
  export const CONFLICT: i32 = 2;
}

export namespace events {
  /** Appends an event to the module's event log: AppendResult.NEW/DUPLICATE/CONFLICT, or an error code. */
  export function append<P, S>(partition: P, source: S, timeMs: f64, payload: Uint8Array): i32 {
    const p = asBytes<P>(partition);
    const s = asBytes<S>(source);
    return appendRaw(p.dataStart, p.length, s.dataStart, s.length, timeMs, payload.dataStart, payload.length);
  }

  export function appendRaw(
    partPtr: usize, partLen: i32, srcPtr: usize, srcLen: i32, timeMs: f64, payloadPtr: usize, payloadLen: i32,
  ): i32 {
    const r = ea_event_append(partPtr, partLen, srcPtr, srcLen, timeMs, payloadPtr, payloadLen);
    if (r < 0) return hostError(r, "event_append");
    hostOk();
    return r;
  }
}

export namespace log {
  // The levels of the `log` import (LOG_LEVEL on the host).
  export const DEBUG: i32 = 0;
  export const INFO: i32 = 1;
  export const WARN: i32 = 2;
  export const ERROR: i32 = 3;

  /** Logs a message (UTF-8, cut to the host's limit, Limits.LOG_BYTES). Returns 0 or an error code. */
  export function write(level: i32, message: string): i32 {
    const b = String.UTF8.encode(message, false, String.UTF8.ErrorMode.REPLACE);
    let n = b.byteLength;
    if (n > Limits.LOG_BYTES) {
      n = Limits.LOG_BYTES;
      // Do not cut a multi-byte sequence.
      while (n > 0 && (load<u8>(changetype<usize>(b) + <usize>n) & 0xc0) == 0x80) n--;
    }
    return writeRaw(level, changetype<usize>(b), n);
  }

  export function writeRaw(level: i32, ptr: usize, len: i32): i32 {
    const r = ea_log(level, ptr, len);
    if (r < 0) return hostError(r, "log");
    hostOk();
    return r;
  }

  export function debug(message: string): i32 {
    return write(DEBUG, message);
  }
  export function info(message: string): i32 {
    return write(INFO, message);
  }
  export function warn(message: string): i32 {
    return write(WARN, message);
  }
  export function error(message: string): i32 {
    return write(ERROR, message);
  }
}

export namespace clock {
  /** Wall-clock milliseconds since the Unix epoch, or a negative error code (DENIED). */
  export function nowMs(): f64 {
    const t = ea_clock_now_ms();
    if (t < 0) {
      hostError(<i32>t, "clock_now_ms");
      return t;
    }
    hostOk();
    return t;
  }
}

export namespace config {
  /** The config value for `key` as a string, or null (unset, or an error: see lastError()). */
  export function get<K>(key: K): string | null {
    const k = asBytes<K>(key);
    const v = readValue(1, k.dataStart, k.length, "config_get");
    if (v == null) return null;
    return String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length, false);
  }

  /** The config value as bytes, or null. */
  export function getBytes<K>(key: K): Uint8Array | null {
    const k = asBytes<K>(key);
    return readValue(1, k.dataStart, k.length, "config_get");
  }
}

export namespace metrics {
  /** Adds `value` to the counter `name` ([a-z0-9_], 1-64 bytes). Returns 0 or an error code. */
  export function add(name: string, value: f64 = 1): i32 {
    const n = name.length;
    // Names are ASCII: narrow without allocating.
    const buf = scratch;
    if (n > Limits.METRIC_NAME_BYTES) return hostError(AbiError.TOO_LARGE, "metric_add");
    for (let i = 0; i < n; i++) store<u8>(buf + <usize>i, <u8>load<u16>(changetype<usize>(name) + (<usize>i << 1)));
    const r = ea_metric_add(buf, n, value);
    if (r < 0) return hostError(r, "metric_add");
    hostOk();
    return r;
  }
}
