/** A client library for sensors and gateways. */
export { SensorClient, RequestRefusedError, type Reading, type BatchResult, type SensorClientOptions } from './sensor-client.js';
