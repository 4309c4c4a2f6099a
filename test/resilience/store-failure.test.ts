import { describe, expect, it } from 'vitest';
import { isStoreFailure } from '../../src/resilience/index.js';
import { GuestCallError, StoreUnavailableError } from '../../src/runtime/index.js';

describe('isStoreFailure', () => {
  it("is true for the store's own failures, whether raised by the store or through a guest call", () => {
    expect(isStoreFailure(new StoreUnavailableError('disk full', 'disk_full'))).toBe(true);
    expect(isStoreFailure(new GuestCallError('store_unavailable', 'the store failed', { storeCode: 'io_error' }))).toBe(true);
  });

  it("is false for a guest's own failure and for anything else", () => {
    expect(isStoreFailure(new GuestCallError('guest_trap', 'unreachable'))).toBe(false);
    expect(isStoreFailure(new Error('store_unavailable'))).toBe(false);
    expect(isStoreFailure(undefined)).toBe(false);
  });
});
