/** A client library for sensors and gateways. */
export {
  SensorClient,
  RequestRefusedError,
  type Reading,
  type RawReading,
  type ItemResult,
  type BatchResult,
  type SensorClientOptions,
  type SendOptions,
} from './sensor-client.js';
export { parseRetryAfter } from './retry-after.js';
export { RetryableError } from '../resilience/index.js';
