/** Resilience: the store's circuit breaker, load shedding, per-client rate limits, byte budgets, and retry with backoff as data. */
export { StoreBreaker, CircuitOpenError, type BreakerState, type StoreBreakerOptions } from './circuit-breaker.js';
export { isStoreFailure } from './store-failure.js';
export { LoadShedder } from './load-shedder.js';
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
export { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
export { ByteBudget } from './byte-budget.js';
export { backoffDelay, type BackoffPolicy } from './backoff.js';
export { sleep } from './sleep.js';
export { withRetry, RetryableError, RETRY_BACKOFF, type RetryOptions } from './retry.js';
