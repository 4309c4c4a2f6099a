/** Telemetry: OpenTelemetry metrics and traces, the Prometheus endpoint, structured logs (docs/observability.md). */
export { Telemetry, type PipelineHooks, type RequestHooks, type TelemetryOptions } from './telemetry.js';
export { trapKind, type GuestCallReport, type GuestCounterMapper } from './guest-hooks.js';
export type { CommitGroupReport } from './pipeline-observer.js';
export type { CounterDefinition } from './metrics.js';
export type { MetricsText } from './metrics-endpoint.js';
export { parseListenAddress } from './listen-address.js';
export { telemetryConfig, type TelemetryConfig } from './config.js';
export { createLogger, LOG_LEVELS, type LogFormat, type LogLevel, type Logger, type LoggerOptions, type NodeLogger } from './logger.js';
export { redact, redactText, REDACTED } from './redact.js';
export { extractTraceContext, injectTraceContext, spanContextOf, traceparentOf, type HeaderCarrier } from './propagation.js';
export { type ReplicationStatsLike } from './replication.js';
export { EventTraceMemory, MAX_REMEMBERED_EVENT_TRACES, ReplicationTracing } from './replication-tracing.js';
export type { DeploymentGauges } from './deployment-metrics.js';
export type { WriteJournalStatus } from './gauges.js';
