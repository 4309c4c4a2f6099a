/**
 * The ABI conformance suite: what any guest, in any language, must do to be a good citizen of
 * ABI v1 (docs/abi.md). Run it against a guest with `describeAbiConformance(name, wasm)`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GuestCallError,
  MemoryStore,
  StoreUnavailableError,
  type Capability,
  type GuestHttpRequest,
  type GuestModule,
  type GuestStore,
} from '../../src/runtime/index.js';
import { loadWasm } from '../helpers/guests.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'];
const KINDS = ['anonymous', 'device', 'gateway', 'read', 'admin'] as const;

/** A store whose every operation fails as a full disk would. */
class FailingStore implements GuestStore {
  private fail(): never {
    throw new StoreUnavailableError('the disk is full', 'disk_full');
  }
  atomically<T>(fn: () => T): T {
    return fn();
  }
  kvGet(): Uint8Array | undefined {
    return this.fail();
  }
  kvPut(): void {
    this.fail();
  }
  kvDelete(): boolean {
    return this.fail();
  }
  kvList(): Uint8Array[] {
    return this.fail();
  }
  appendEvent(): never {
    return this.fail();
  }
}

const requestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.oneof(fc.constantFrom('/', '/v1/readings', '/v1/regions', '/kv/a', '/time'), fc.string({ maxLength: 200 }).map((s) => `/${s}`)),
  query: fc.string({ maxLength: 100 }),
  contentType: fc.constantFrom('', 'application/json', 'application/x-ndjson', 'text/plain', 'application/octet-stream'),
  principal: fc.record({ kind: fc.constantFrom(...KINDS), subject: fc.string({ maxLength: 64 }) }),
  body: fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.json().map((j) => new TextEncoder().encode(j))),
});

function request(overrides: Partial<GuestHttpRequest> = {}): GuestHttpRequest {
  return { method: 'GET', path: '/', query: '', contentType: '', principal: { kind: 'anonymous', subject: '' }, body: new Uint8Array(0), ...overrides };
}

/** A call either answers with a frame or fails with a store error; a trap or bad frame is a bug. */
function callIsWellBehaved(mod: GuestModule, req: GuestHttpRequest): void {
  try {
    const res = mod.invokeHttp(req);
    expect(res.status).toBeGreaterThanOrEqual(100);
    expect(res.status).toBeLessThan(600);
  } catch (error) {
    expect(error).toBeInstanceOf(GuestCallError);
    expect((error as GuestCallError).code, (error as Error).message).toBe('store_unavailable');
  }
}

export function describeAbiConformance(name: string, wasm: () => Uint8Array, capabilities: Capability[] = ALL): void {
  const load = (store: GuestStore = new MemoryStore(), grants: Capability[] = capabilities): Promise<GuestModule> =>
    // A fixed clock: a guest that reports the time answers the same read the same way.
    loadWasm(wasm(), { name, capabilities, grants, store, config: {}, now: () => 1_700_000_000_000 });

  describe(`ABI v1 conformance: ${name}`, () => {
    it('passes every load-time check (signature, imports, memory cap, exports)', async () => {
      const mod = await load();
      expect(mod.info.memory.maxPages).toBeGreaterThan(0);
      expect(mod.hasHttpTrigger || mod.hasEventsTrigger).toBe(true);
    });

    it('keeps its initial memory small (restored after every call)', async () => {
      const mod = await load();
      expect(mod.info.memory.minPages).toBeLessThanOrEqual(4);
    });

    it('answers any request with a well-formed response, never a trap', async () => {
      const mod = await load();
      if (!mod.hasHttpTrigger) return;
      fc.assert(
        fc.property(requestArb, (req) => {
          callIsWellBehaved(mod, req);
        }),
        { numRuns: 300 },
      );
    });

    it('handles an input larger than its initial memory (1 MiB body)', async () => {
      const mod = await load();
      if (!mod.hasHttpTrigger) return;
      const body = new Uint8Array(1024 * 1024).fill(0x20);
      callIsWellBehaved(mod, request({ method: 'POST', path: '/v1/readings', contentType: 'application/json', body }));
      callIsWellBehaved(mod, request());
    });

    it('answers the same read the same way twice (no state kept between calls)', async () => {
      const mod = await load();
      if (!mod.hasHttpTrigger) return;
      fc.assert(
        fc.property(requestArb, (req) => {
          const get = { ...req, method: 'GET', body: new Uint8Array(0) };
          let first: string;
          try {
            first = Buffer.from(mod.invokeHttp(get).body).toString('hex');
          } catch {
            return;
          }
          expect(Buffer.from(mod.invokeHttp(get).body).toString('hex')).toBe(first);
        }),
        { numRuns: 100 },
      );
    });

    it('does not trap when every capability is denied', async () => {
      const mod = await load(new MemoryStore(), []);
      if (!mod.hasHttpTrigger) return;
      fc.assert(
        fc.property(requestArb, (req) => {
          const res = mod.invokeHttp(req);
          expect(res.status).toBeGreaterThanOrEqual(100);
        }),
        { numRuns: 100 },
      );
    });

    it('fails cleanly when the store is unavailable', async () => {
      const mod = await load(new FailingStore());
      if (!mod.hasHttpTrigger) return;
      fc.assert(fc.property(requestArb, (req) => callIsWellBehaved(mod, req)), { numRuns: 100 });
    });

    it('folds events without trapping', async () => {
      const mod = await load();
      if (!mod.hasEventsTrigger) return;
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setFloat64(0, 21.5, true);
      mod.invokeEvents([{ partition: 'p', source: 's', timeMs: Date.now(), payload }]);
    });
  });
}
