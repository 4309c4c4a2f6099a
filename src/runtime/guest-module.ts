/**
 * A loaded, compiled guest module and its instances. Calls are synchronous: the guest runs on the
 * caller's thread within its fuel budget (and the wall-clock backstop), and its store writes happen
 * inside `store.atomically`, so a failed call leaves nothing behind.
 */
import { EXPORTS, LIMITS, type Capability } from './abi.js';
import { decodeResponseFrame, eventsEnvelope, httpRequestEnvelope, type Envelope, type GuestHttpRequest, type GuestHttpResponse } from './envelope.js';
import { GuestCallError, type GuestCallErrorCode } from './errors.js';
import { FuelExhausted, type CallLimit } from './fuel.js';
import { createHostImports, newCallContext, type CallContext, type HostEnvironment } from './host-imports.js';
import { FUEL_IMPORT, type ModuleInfo } from './instrument.js';
import type { Manifest } from './manifest.js';
import type { GuestStore, StoredEvent } from './store.js';

export type Trigger = 'http' | 'events';

/** What a runtime tells its observer after every call (metrics, logs). */
export interface CallReport {
  module: string;
  version: string;
  trigger: Trigger;
  durationMs: number;
  /** The failure's code, when the call failed. */
  error?: GuestCallErrorCode | 'internal';
  /** For `guest_trap`: the engine's message ("unreachable", "memory access out of bounds", ...). */
  trap?: string;
  /** The instance's linear memory when the call ended, in bytes (absent if no instance was made). */
  memoryBytes?: number;
  /** The most that memory may grow to (its declared maximum), in bytes: at it, `memory.grow` fails. */
  memoryLimitBytes?: number;
  /** Fuel the call used, host work included (absent if no instance was made). */
  fuelUsed?: number;
}

export interface GuestModuleOptions {
  manifest: Manifest;
  info: ModuleInfo;
  compiled: WebAssembly.Module;
  store: GuestStore;
  granted: ReadonlySet<Capability>;
  config: ReadonlyMap<string, string>;
  /** The module's CPU deadline, in milliseconds of the reference machine. */
  deadlineMs: number;
  /** The fuel a call may use: its deadline times the node's fuel per millisecond. */
  fuelBudget: number;
  /** The wall-clock time after which a call is stopped whatever its fuel, in milliseconds. */
  backstopMs: number;
  now: () => number;
  onLog: (module: GuestModule, level: number, message: string) => void;
  onMetric: (module: GuestModule, name: string, value: number) => void;
  onCall: (report: CallReport) => void;
}

export interface HttpCallResult extends GuestHttpResponse {
  /** Events the call appended that were new to the log, in order. */
  newEvents: StoredEvent[];
}

interface GuestExports {
  memory: WebAssembly.Memory;
  ea_alloc: (len: number) => number;
  ea_on_http?: (ptr: number, len: number) => number;
  ea_on_events?: (ptr: number, len: number) => number;
  __ea_reset: () => void;
  __ea_snapshot: () => void;
  __ea_fuel: WebAssembly.Global;
}

class GuestInstance {
  exports!: GuestExports;
  snapshot!: Uint8Array;
  ctx: CallContext;

  constructor(compiled: WebAssembly.Module, env: HostEnvironment, limits: CallLimits) {
    const host = createHostImports(env, () => this.ctx, () => this.exports.memory);
    this.ctx = newCallContext(limits.fuelBudget, limits.backstopMs); // the start function has a budget too
    const instance = new WebAssembly.Instance(compiled, {
      ea: host.ea,
      [FUEL_IMPORT.module]: { [FUEL_IMPORT.name]: host.fuel },
    });
    this.exports = instance.exports as unknown as GuestExports;
    // The state to return to after every call: right after instantiation, start function included.
    this.exports.__ea_snapshot();
    this.snapshot = new Uint8Array(this.exports.memory.buffer).slice();
  }

  /** A fresh budget for the next call; the guest's counter starts empty, so its first check asks for fuel. */
  startCall(limits: CallLimits): void {
    this.ctx = newCallContext(limits.fuelBudget, limits.backstopMs);
    this.exports.__ea_fuel.value = 0;
  }

  get fuelUsed(): number {
    return this.ctx.fuel.used(this.exports.__ea_fuel.value as number);
  }

  /** Back to the state right after instantiation; false when that is impossible (memory grew). */
  reset(): boolean {
    const memory = this.exports.memory.buffer;
    if (memory.byteLength !== this.snapshot.length) return false;
    new Uint8Array(memory).set(this.snapshot);
    this.exports.__ea_reset();
    return true;
  }
}

type CallLimits = Pick<GuestModuleOptions, 'fuelBudget' | 'backstopMs'>;

const MAX_IDLE_INSTANCES = 4;

export class GuestModule {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly info: ModuleInfo;
  private readonly idle: GuestInstance[] = [];
  private readonly env: HostEnvironment;
  private readonly metricNames = new Set<string>();
  private readonly memoryLimitBytes: number;

  constructor(private readonly options: GuestModuleOptions) {
    this.memoryLimitBytes = options.info.memory.maxPages * 65536;
    this.manifest = options.manifest;
    this.name = options.manifest.name;
    this.version = options.manifest.version;
    this.info = options.info;
    this.env = {
      store: options.store,
      namespace: `${this.name}@${this.version}`,
      stream: this.name,
      granted: options.granted,
      config: options.config,
      now: options.now,
      log: (level, message) => options.onLog(this, level, message),
      metricAllowed: (name) => {
        if (this.metricNames.has(name)) return true;
        if (this.metricNames.size >= LIMITS.metricNames) return false;
        this.metricNames.add(name);
        return true;
      },
    };
  }

  /** Namespace of this version's key-value state. */
  get namespace(): string {
    return this.env.namespace;
  }

  get hasHttpTrigger(): boolean {
    return this.info.hasHttpTrigger;
  }

  get hasEventsTrigger(): boolean {
    return this.info.hasEventsTrigger;
  }

  /** Calls `ea_on_http`. Throws {@link GuestCallError} when the call fails (nothing is kept). */
  invokeHttp(request: GuestHttpRequest): HttpCallResult {
    return this.call('http', httpRequestEnvelope(request), (inst, ret) => {
      const frame = decodeResponseFrame(new Uint8Array(inst.exports.memory.buffer), ret);
      if (typeof frame === 'string') throw new GuestCallError('guest_bad_response', frame);
      return { ...frame, newEvents: inst.ctx.newEvents };
    });
  }

  /** Calls `ea_on_events` with events new to this module's state, at most 10,000 per call. */
  invokeEvents(events: readonly StoredEvent[]): void {
    for (let i = 0; i < events.length; i += LIMITS.eventsPerFold) this.foldChunk(events.slice(i, i + LIMITS.eventsPerFold));
  }

  private foldChunk(events: readonly StoredEvent[]): void {
    this.call('events', eventsEnvelope(events), (_inst, ret) => {
      if (ret !== 0) throw new GuestCallError('guest_refused', `ea_on_events returned ${ret}`);
    });
  }

  private call<T>(trigger: Trigger, input: Envelope, finish: (inst: GuestInstance, ret: number) => T): T {
    const entry = trigger === 'http' ? EXPORTS.onHttp : EXPORTS.onEvents;
    const started = performance.now();
    let instance: GuestInstance | undefined;
    try {
      const result = this.options.store.atomically(() => {
        instance = this.acquire();
        const inst = instance;
        inst.startCall(this.options);
        const fn = inst.exports[entry];
        if (!fn) throw new GuestCallError('guest_bad_response', `the module has no ${entry} export`);
        const ptr = inst.exports.ea_alloc(input.size) >>> 0;
        const memory = inst.exports.memory.buffer;
        if (ptr + input.size > memory.byteLength) {
          throw new GuestCallError('guest_bad_response', `ea_alloc(${input.size}) returned ${ptr}, outside memory`);
        }
        input.write(memory, ptr);
        const ret = fn(ptr, input.size);
        this.checkContext(inst.ctx);
        return finish(inst, ret);
      });
      for (const [name, value] of instance!.ctx.metrics) this.options.onMetric(this, name, value);
      const memoryBytes = instance!.exports.memory.buffer.byteLength;
      const fuelUsed = instance!.fuelUsed;
      this.release(instance!);
      this.options.onCall({ module: this.name, version: this.version, trigger, durationMs: performance.now() - started, memoryBytes, memoryLimitBytes: this.memoryLimitBytes, fuelUsed });
      return result;
    } catch (error) {
      const failure = this.translate(error, instance?.ctx);
      const code = failure instanceof GuestCallError ? failure.code : 'internal';
      const failed = instance as GuestInstance | undefined;
      this.options.onCall({
        module: this.name,
        version: this.version,
        trigger,
        durationMs: performance.now() - started,
        error: code,
        trap: code === 'guest_trap' && (failure as GuestCallError).cause instanceof Error ? ((failure as GuestCallError).cause as Error).message : undefined,
        memoryBytes: failed?.exports.memory.buffer.byteLength,
        memoryLimitBytes: this.memoryLimitBytes,
        fuelUsed: failed?.fuelUsed,
      });
      throw failure;
    }
  }

  /** A guest that ignored a store failure or a host bug still fails the whole call. */
  private checkContext(ctx: CallContext): void {
    if (ctx.internalError) throw ctx.internalError;
    if (ctx.storeError) {
      throw new GuestCallError('store_unavailable', ctx.storeError.message, { cause: ctx.storeError, storeCode: ctx.storeError.code });
    }
  }

  /** Maps whatever ended a call to the documented call errors (docs/abi.md, "Call errors"). */
  private translate(error: unknown, ctx: CallContext | undefined): unknown {
    if (error instanceof GuestCallError) return error;
    const limit = ctx?.fuel.stopped ?? (error instanceof FuelExhausted ? error.limit : undefined);
    if (limit) return this.limitError(limit);
    if (ctx?.internalError) return ctx.internalError;
    if (ctx?.storeError) {
      return new GuestCallError('store_unavailable', ctx.storeError.message, { cause: ctx.storeError, storeCode: ctx.storeError.code });
    }
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return new GuestCallError('stack_overflow', `${this.name}@${this.version} overflowed the stack`, { cause: error });
    }
    if (error instanceof WebAssembly.RuntimeError) {
      return new GuestCallError('guest_trap', `${this.name}@${this.version} trapped: ${error.message}`, { cause: error });
    }
    return error;
  }

  /** `deadline_exceeded`, saying which limit stopped the call. */
  private limitError(limit: CallLimit): GuestCallError {
    const { deadlineMs, fuelBudget, backstopMs } = this.options;
    const who = `${this.name}@${this.version}`;
    const message = limit === 'fuel'
      ? `${who} used up its CPU budget of ${fuelBudget} fuel (its ${deadlineMs} ms deadline)`
      : `${who} ran past the ${backstopMs} ms wall-clock backstop of its ${deadlineMs} ms deadline`;
    return new GuestCallError('deadline_exceeded', message, { limit });
  }

  private acquire(): GuestInstance {
    return this.idle.pop() ?? new GuestInstance(this.options.compiled, this.env, this.options);
  }

  /** Only a cleanly finished instance goes back to the pool; a failed one is simply dropped. */
  private release(inst: GuestInstance): void {
    if (!this.info.poolable || this.idle.length >= MAX_IDLE_INSTANCES) return;
    if (inst.reset()) this.idle.push(inst);
  }
}
