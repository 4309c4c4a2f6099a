import { GuestCallError, StoreUnavailableError } from '../runtime/index.js';

/**
 * The store failed (disk full, I/O error, busy), as opposed to the request or the guest: worth trying
 * again, not the events' fault, and the only kind of failure that counts towards opening the store's
 * circuit. A bad request or a guest's trap says nothing about the disk.
 */
export function isStoreFailure(error: unknown): boolean {
  return error instanceof StoreUnavailableError || (error instanceof GuestCallError && error.code === 'store_unavailable');
}
