/**
 * The Wasm host: verifies, instruments, compiles (once per module hash) and wires guests to a store.
 */
import { CAPABILITIES, DEFAULT_DEADLINE_MS, DEFAULT_MAX_DEADLINE_MS, DEFAULT_MEMORY_CAP_BYTES, type Capability } from './abi.js';
import { ModuleLoadError } from './errors.js';
import { DEFAULT_BACKSTOP_FACTOR, DEFAULT_FUEL_PER_MS, MIN_BACKSTOP_MS } from './fuel.js';
import { GuestModule, type CallReport } from './guest-module.js';
import { instrumentModule, type ModuleInfo } from './instrument.js';
import { TrustedKeys, verifyBundle, type ModuleBundle } from './manifest.js';
import type { GuestStore } from './store.js';

export interface RuntimeOptions {
  store: GuestStore;
  /** Public keys (PEM) whose signatures this node accepts. */
  trustedKeys: TrustedKeys | Iterable<string>;
  /** The most memory any module may have, in bytes. @default 67108864 (64 MiB) */
  memoryCapBytes?: number;
  /**
   * The longest CPU deadline any call may have, in milliseconds. A module gets the deadline its
   * manifest names (50 ms when it names none), never more than this.
   * @default 1000
   */
  maxDeadlineMs?: number;
  /**
   * Fuel (instructions, and the host's fixed costs for host calls) per millisecond of deadline: a call
   * may use its deadline times this, however busy the machine. Calibrated on an x86-64 core, where
   * the aggregator runs about this many a millisecond.
   * @default 20000000
   */
  fuelPerMs?: number;
  /**
   * The wall-clock backstop, as a multiple of the deadline (and never under 2 s): a call still running
   * after this long is stopped whatever fuel it has left. Far above what valid work needs, even on a
   * busy machine; it is there for work the fuel undercounts (slow store calls, bulk memory).
   * @default 10
   */
  backstopFactor?: number;
  /** Wall clock handed to guests, in milliseconds. @default Date.now */
  now?: () => number;
  /** Guest log lines. @default ignore */
  onLog?: (module: GuestModule, level: number, message: string) => void;
  /** Guest counters (`metric_add`). @default ignore */
  onMetric?: (module: GuestModule, name: string, value: number) => void;
  /** Called after every guest call, for metrics. @default ignore */
  onCall?: (report: CallReport) => void;
}

export interface LoadOptions {
  /** Capabilities the operator grants this module; nothing is granted by default. @default [] */
  grants?: Iterable<Capability>;
  /**
   * Refuse the module (`capability_not_granted`) when it imports functions of a capability not granted,
   * instead of answering those calls `capability_denied`: what a deployment wants. @default false
   */
  requireGrants?: boolean;
  /** Values guests read with `config_get`. @default {} */
  config?: Record<string, string>;
}

interface Compiled {
  module: WebAssembly.Module;
  info: ModuleInfo;
}

export class Runtime {
  private readonly trusted: TrustedKeys;
  private readonly compiled = new Map<string, Promise<Compiled>>();
  readonly memoryCapBytes: number;
  readonly maxDeadlineMs: number;
  readonly fuelPerMs: number;
  readonly backstopFactor: number;

  constructor(private readonly options: RuntimeOptions) {
    this.trusted = options.trustedKeys instanceof TrustedKeys ? options.trustedKeys : new TrustedKeys(options.trustedKeys);
    this.memoryCapBytes = options.memoryCapBytes ?? DEFAULT_MEMORY_CAP_BYTES;
    this.maxDeadlineMs = options.maxDeadlineMs ?? DEFAULT_MAX_DEADLINE_MS;
    this.fuelPerMs = options.fuelPerMs ?? DEFAULT_FUEL_PER_MS;
    this.backstopFactor = options.backstopFactor ?? DEFAULT_BACKSTOP_FACTOR;
  }

  get trustedKeys(): TrustedKeys {
    return this.trusted;
  }

  /** Verifies and compiles a signed module. Throws {@link ModuleLoadError} with a code on refusal. */
  async load(bundle: ModuleBundle, options: LoadOptions = {}): Promise<GuestModule> {
    const manifest = verifyBundle(bundle, this.trusted);
    const memoryCap = Math.min(manifest.limits.memory_bytes ?? this.memoryCapBytes, this.memoryCapBytes);
    if ((manifest.limits.memory_bytes ?? 0) > this.memoryCapBytes) {
      throw new ModuleLoadError('memory_over_cap', `the manifest asks for ${manifest.limits.memory_bytes} bytes; this node allows ${this.memoryCapBytes}`);
    }
    const { module, info } = await this.compile(manifest.sha256, bundle.wasm, memoryCap);
    for (const capability of info.capabilities) {
      if (!manifest.capabilities.includes(capability)) {
        throw new ModuleLoadError('capability_not_declared', `the module imports ${capability} functions but its manifest does not declare ${capability}`);
      }
    }
    const grants = new Set(options.grants ?? []);
    for (const g of grants) {
      if (!(CAPABILITIES as readonly string[]).includes(g)) throw new Error(`unknown capability ${g}`);
    }
    const granted = new Set(manifest.capabilities.filter((c) => grants.has(c)));
    const ungranted = [...info.capabilities].filter((c) => !grants.has(c)).sort();
    if (options.requireGrants && ungranted.length > 0) {
      throw new ModuleLoadError('capability_not_granted', `the module imports ${ungranted.join(', ')} functions, which this deployment does not grant`);
    }
    const deadlineMs = Math.min(manifest.limits.deadline_ms ?? DEFAULT_DEADLINE_MS, this.maxDeadlineMs);
    return new GuestModule({
      manifest,
      info,
      compiled: module,
      store: this.options.store,
      granted,
      config: new Map(Object.entries(options.config ?? {})),
      deadlineMs,
      fuelBudget: deadlineMs * this.fuelPerMs,
      backstopMs: Math.max(deadlineMs * this.backstopFactor, MIN_BACKSTOP_MS),
      now: this.options.now ?? Date.now,
      onLog: this.options.onLog ?? (() => {}),
      onMetric: this.options.onMetric ?? (() => {}),
      onCall: this.options.onCall ?? (() => {}),
    });
  }

  /** Instrumented and compiled once per (module hash, memory cap); the promise is shared. */
  private compile(sha256: string, wasm: Uint8Array, memoryCapBytes: number): Promise<Compiled> {
    const cacheKey = `${sha256}:${memoryCapBytes}`;
    let entry = this.compiled.get(cacheKey);
    if (!entry) {
      entry = (async () => {
        const { wasm: instrumented, info } = instrumentModule(wasm, { memoryCapBytes });
        try {
          return { module: await WebAssembly.compile(instrumented), info };
        } catch (error) {
          throw new ModuleLoadError('invalid_module', `instrumented module failed to compile: ${String(error)}`, { cause: error });
        }
      })();
      entry.catch(() => this.compiled.delete(cacheKey));
      this.compiled.set(cacheKey, entry);
    }
    return entry;
  }
}
