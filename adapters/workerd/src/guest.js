/**
 * Calls into the unchanged guest module. workerd cannot compile Wasm from bytes at run time, so the
 * module arrives compiled (a module import); each call gets a fresh instance, which is the ABI's
 * isolation between calls ("Nothing one call does is visible to the next") without the node's
 * snapshot-and-reset, which needs the instrumented module.
 */
import { LIMITS } from './abi.js';
import { decodeResponseFrame, eventsEnvelope, httpRequestEnvelope } from './envelope.js';
import { createHostImports, newCallContext } from './host-imports.js';

/** A failed guest call, with the code of docs/abi.md "Call errors". */
export class GuestCallError extends Error {
  name = 'GuestCallError';
  constructor(code, message, options = {}) {
    super(message, options);
    this.code = code;
    this.storeCode = options.storeCode;
  }
}

export class Guest {
  /**
   * @param {WebAssembly.Module} module
   * @param {{ name: string, version: string, capabilities: string[] }} manifest the signed manifest
   * @param {Omit<import('./host-imports.js').HostEnvironment, 'namespace' | 'stream' | 'granted' | 'metricAllowed'>} env
   */
  constructor(module, manifest, env) {
    this.module = module;
    this.name = manifest.name;
    this.version = manifest.version;
    const metricNames = new Set();
    this.env = {
      ...env,
      namespace: `${manifest.name}@${manifest.version}`,
      stream: manifest.name,
      // The node grants every capability to the aggregator; what a module may use is what it declared.
      granted: new Set(manifest.capabilities),
      metricAllowed: (name) => {
        if (metricNames.has(name)) return true;
        if (metricNames.size >= LIMITS.metricNames) return false;
        metricNames.add(name);
        return true;
      },
    };
  }

  /** `ea_on_http`: the guest's answer and the events it appended that were new. */
  http(request) {
    return this.call('ea_on_http', httpRequestEnvelope(request), (memory, ret, ctx) => {
      const frame = decodeResponseFrame(new Uint8Array(memory.buffer), ret);
      if (typeof frame === 'string') throw new GuestCallError('guest_bad_response', frame);
      return { ...frame, newEvents: ctx.newEvents };
    });
  }

  /** `ea_on_events`, at most 10,000 events per call. */
  fold(events) {
    for (let i = 0; i < events.length; i += LIMITS.eventsPerFold) {
      this.call('ea_on_events', eventsEnvelope(events.slice(i, i + LIMITS.eventsPerFold)), (_memory, ret) => {
        if (ret !== 0) throw new GuestCallError('guest_refused', `ea_on_events returned ${ret}`);
      });
    }
  }

  call(entry, input, finish) {
    const ctx = newCallContext();
    let instance;
    try {
      const memory = () => {
        if (!instance) throw new Error('a host call before the instance was made (from the start function)');
        return instance.exports.memory;
      };
      instance = new WebAssembly.Instance(this.module, { ea: createHostImports(this.env, ctx, memory) });
      const fn = instance.exports[entry];
      if (typeof fn !== 'function') throw new GuestCallError('guest_bad_response', `the module has no ${entry} export`);
      const ptr = instance.exports.ea_alloc(input.size) >>> 0;
      const buffer = instance.exports.memory.buffer;
      if (ptr + input.size > buffer.byteLength) throw new GuestCallError('guest_bad_response', `ea_alloc(${input.size}) returned ${ptr}, outside memory`);
      input.write(buffer, ptr);
      const ret = fn(ptr, input.size);
      checkContext(ctx);
      return finish(instance.exports.memory, ret, ctx);
    } catch (error) {
      throw this.translate(error, ctx);
    }
  }

  /** Maps whatever ended a call to the documented call errors, as the node's GuestModule does. */
  translate(error, ctx) {
    if (error instanceof GuestCallError) return error;
    if (ctx.internalError) return ctx.internalError;
    if (ctx.storeError) return storeFailure(ctx.storeError);
    const who = `${this.name}@${this.version}`;
    if (error instanceof RangeError && /call stack/i.test(error.message)) return new GuestCallError('stack_overflow', `${who} overflowed the stack`, { cause: error });
    if (error instanceof WebAssembly.RuntimeError) return new GuestCallError('guest_trap', `${who} trapped: ${error.message}`, { cause: error });
    return error;
  }
}

/** A guest that ignored a store failure or a host bug still fails the whole call. */
function checkContext(ctx) {
  if (ctx.internalError) throw ctx.internalError;
  if (ctx.storeError) throw storeFailure(ctx.storeError);
}

function storeFailure(error) {
  return new GuestCallError('store_unavailable', error.message, { cause: error, storeCode: error.code });
}
