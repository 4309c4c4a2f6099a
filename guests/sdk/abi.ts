// Raw host imports of guest ABI v1 (docs/abi.md), the error codes, the limits, and the `ea_alloc` export.
//
// Most code should use the typed wrappers in host.ts; these are here for guests that need the exact
// calls (and for the wrappers themselves).
//
// The host declares the same contract in src/runtime/abi.ts. AssemblyScript cannot import it, so this is a
// copy, and test/abi/abi-agreement.test.ts fails, naming the constant, when the two disagree: every import
// (module, name, signature), ABI_VERSION, AbiError, Limits, and the constants in host.ts (AppendResult, log
// levels) and http.ts (Method, Principal). Change both files together.

/** The version of the guest ABI this SDK speaks. */
export const ABI_VERSION: i32 = 1;

// @ts-ignore: decorator
@external("ea", "log")
export declare function ea_log(level: i32, ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("ea", "clock_now_ms")
export declare function ea_clock_now_ms(): f64;
// @ts-ignore: decorator
@external("ea", "config_get")
export declare function ea_config_get(keyPtr: usize, keyLen: i32, outPtr: usize, outCap: i32): i32;
// @ts-ignore: decorator
@external("ea", "kv_get")
export declare function ea_kv_get(keyPtr: usize, keyLen: i32, outPtr: usize, outCap: i32): i32;
// @ts-ignore: decorator
@external("ea", "kv_put")
export declare function ea_kv_put(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;
// @ts-ignore: decorator
@external("ea", "kv_delete")
export declare function ea_kv_delete(keyPtr: usize, keyLen: i32): i32;
// @ts-ignore: decorator
@external("ea", "kv_list")
export declare function ea_kv_list(
  prefixPtr: usize, prefixLen: i32, afterPtr: usize, afterLen: i32, outPtr: usize, outCap: i32,
): i32;
// @ts-ignore: decorator
@external("ea", "event_append")
export declare function ea_event_append(
  partPtr: usize, partLen: i32, srcPtr: usize, srcLen: i32, timeMs: f64, payloadPtr: usize, payloadLen: i32,
): i32;
// @ts-ignore: decorator
@external("ea", "metric_add")
export declare function ea_metric_add(namePtr: usize, nameLen: i32, value: f64): i32;

/** The closed set of error codes every import can return (docs/abi.md, "Error codes"). */
export namespace AbiError {
  export const NONE: i32 = 0;
  export const NOT_FOUND: i32 = -1;
  export const DENIED: i32 = -2;
  export const OUT_OF_BOUNDS: i32 = -3;
  export const TOO_LARGE: i32 = -4;
  export const INVALID: i32 = -5;
  export const UNAVAILABLE: i32 = -6;
  export const QUOTA: i32 = -7;

  /** The ABI name of a code, e.g. "UNAVAILABLE". */
  export function name(code: i32): string {
    switch (code) {
      case NONE: return "OK";
      case NOT_FOUND: return "NOT_FOUND";
      case DENIED: return "DENIED";
      case OUT_OF_BOUNDS: return "OUT_OF_BOUNDS";
      case TOO_LARGE: return "TOO_LARGE";
      case INVALID: return "INVALID";
      case UNAVAILABLE: return "UNAVAILABLE";
      case QUOTA: return "QUOTA";
    }
    return "UNKNOWN";
  }
}

/** The host's limits (docs/abi.md, "Limits"): an argument over one gets TOO_LARGE, or INVALID below a minimum. */
export namespace Limits {
  export const KEY_BYTES: i32 = 512;
  export const VALUE_BYTES: i32 = 1048576;
  export const PARTITION_BYTES: i32 = 64;
  export const SOURCE_BYTES: i32 = 128;
  export const PAYLOAD_BYTES: i32 = 4096;
  export const LOG_BYTES: i32 = 4096;
  export const CONFIG_KEY_BYTES: i32 = 128;
  export const METRIC_NAME_BYTES: i32 = 64;
  /** Distinct counter names per module. */
  export const METRIC_NAMES: i32 = 64;
  export const EVENTS_PER_CALL: i32 = 100000;
  /** Events handed to one `ea_on_events` call; the host splits larger sets. */
  export const EVENTS_PER_FOLD: i32 = 10000;
  export const HOST_CALLS_PER_CALL: i32 = 1000000;
  /** The smallest kv_list output buffer: one key of the largest size and its length prefix. */
  export const LIST_BUFFER_MIN: i32 = 514;
  export const TABLE_ENTRIES: i32 = 100000;
}

// The last error code a wrapper in host.ts saw (errno style: AssemblyScript has no catchable exceptions).
let lastErrorCode: i32 = 0;
// Whether a wrapper that receives UNAVAILABLE aborts the call (the default: the host then rolls the call back
// and answers 503), or returns like for any other error so the guest can answer itself.
let trapUnavailable: bool = true;

/** The error code of the most recent failed host call made through the SDK wrappers, 0 if it succeeded. */
export function lastError(): i32 {
  return lastErrorCode;
}

/**
 * By default an UNAVAILABLE result aborts the call (`abort()` traps: the host rolls back every write and
 * answers 503). Pass false to get it back as an error code instead, e.g. to answer with a JSON body of your
 * own. The setting lasts for the current call only (the host resets globals after every call).
 */
export function setTrapOnUnavailable(trap: bool): void {
  trapUnavailable = trap;
}

/** @internal Records `code` (a negative result) and aborts on UNAVAILABLE when configured to. */
export function hostError(code: i32, what: string): i32 {
  lastErrorCode = code;
  if (code == AbiError.UNAVAILABLE && trapUnavailable) {
    abort("store unavailable in " + what, null, 0, 0);
  }
  return code;
}

/** @internal Marks the most recent host call as successful. */
// @ts-ignore: decorator
@inline
export function hostOk(): void {
  lastErrorCode = 0;
}

/**
 * The `ea_alloc` export: the host asks for a buffer for the input of a call. Every guest re-exports it from its
 * entry file: `export { ea_alloc } from "../sdk";`. Memory comes from the runtime's bump allocator; the host
 * resets memory after every call, so nothing is ever freed.
 */
export function ea_alloc(len: i32): i32 {
  if (len < 0) unreachable();
  return <i32>heap.alloc(<usize>len);
}
