/** Resilience: the store's circuit breaker, load shedding and retry with backoff. */
export { StoreBreaker, CircuitOpenError, isStoreFailure, type BreakerState, type StoreBreakerOptions } from './circuit-breaker.js';
export { LoadShedder } from './load-shedder.js';
export { withRetry, type RetryOptions } from './retry.js';
