/**
 * Telemetry configuration from OpenTelemetry's standard environment variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/). The OTLP
 * exporters read their own variables (endpoint, headers, timeout, compression, certificates); this
 * decides what runs at all.
 */

export interface TelemetryConfig {
  /** `OTEL_SDK_DISABLED=true`: no metrics, no traces, no `/metrics`. */
  disabled: boolean;
  /** `OTEL_SERVICE_NAME`. @default 'edge-aggregator' */
  serviceName: string;
  /** OTLP/HTTP export of metrics: an endpoint is set and `OTEL_METRICS_EXPORTER` does not say `none`. */
  otlpMetrics: boolean;
  /** `OTEL_METRIC_EXPORT_INTERVAL`, ms. @default 60000 */
  metricExportIntervalMs: number;
  /** `OTEL_METRIC_EXPORT_TIMEOUT`, ms (at most the interval). @default 30000 */
  metricExportTimeoutMs: number;
  /**
   * Tracing: an OTLP endpoint is set, `OTEL_TRACES_EXPORTER` does not say `none` and the sampler is not
   * `always_off`. When false no span is ever made: the request path allocates nothing for tracing.
   */
  tracing: boolean;
  /** Settings that were ignored, to be logged. */
  warnings: string[];
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

export function telemetryConfig(env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  const warnings: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const num = (name: string, fallback: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) {
      warnings.push(`${name}=${raw} is not a positive number; using ${fallback}`);
      return fallback;
    }
    return n;
  };
  const exporters = (name: string): string[] => (str(name) ?? 'otlp').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const endpoint = (signal: 'TRACES' | 'METRICS'): boolean => str(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`) !== undefined || str('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;

  const disabled = str('OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const traceExporters = exporters('OTEL_TRACES_EXPORTER');
  const metricExporters = exporters('OTEL_METRICS_EXPORTER');
  for (const e of traceExporters) if (e !== 'otlp' && e !== 'none') warnings.push(`OTEL_TRACES_EXPORTER=${e} is not supported (otlp, none)`);
  // `prometheus` is accepted: the Prometheus endpoint is always served (see the metrics-listen setting).
  for (const e of metricExporters) if (!['otlp', 'prometheus', 'none'].includes(e)) warnings.push(`OTEL_METRICS_EXPORTER=${e} is not supported (otlp, prometheus, none)`);
  const sampler = str('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  if (!SAMPLERS.includes(sampler)) warnings.push(`OTEL_TRACES_SAMPLER=${sampler} is not supported; the SDK uses parentbased_always_on`);
  const protocol = (str('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? str('OTEL_EXPORTER_OTLP_PROTOCOL'))?.toLowerCase();
  if (protocol && protocol !== 'http/json') warnings.push(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: this node exports OTLP over HTTP with JSON bodies (http/json)`);

  const interval = num('OTEL_METRIC_EXPORT_INTERVAL', 60_000);
  return {
    disabled,
    serviceName: str('OTEL_SERVICE_NAME') ?? 'edge-aggregator',
    otlpMetrics: !disabled && metricExporters.includes('otlp') && endpoint('METRICS'),
    metricExportIntervalMs: interval,
    metricExportTimeoutMs: Math.min(num('OTEL_METRIC_EXPORT_TIMEOUT', 30_000), interval),
    tracing: !disabled && traceExporters.includes('otlp') && endpoint('TRACES') && sampler !== 'always_off',
    warnings,
  };
}
