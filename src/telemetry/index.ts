/** Telemetry: OpenTelemetry metrics and traces, the Prometheus endpoint, structured logs (docs/observability.md). */
export { Telemetry, parseListenAddress, trapKind, type CommitGroupReport, type GuestCallReport, type TelemetryOptions } from './telemetry.js';
export { telemetryConfig, type TelemetryConfig } from './config.js';
export { createLogger, LOG_LEVELS, type LogFormat, type LogLevel, type Logger, type LoggerOptions, type NodeLogger } from './logger.js';
export { redact, redactText, REDACTED } from './redact.js';
export { extractTraceContext, injectTraceContext, spanContextOf, traceparentOf, type HeaderCarrier } from './propagation.js';
export { snapshotFromFleetInfo, type FleetInfoLike, type ReplicationSnapshot } from './replication.js';
export { EventTraceMemory, MAX_REMEMBERED_EVENT_TRACES, ReplicationTracing } from './replication-tracing.js';
