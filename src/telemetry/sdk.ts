/**
 * The OpenTelemetry SDK as this node runs it: the resource, the metric readers (Prometheus always, OTLP
 * when configured, and the tests' own), the tracer provider when tracing is on, and the SDK's own
 * diagnostics routed into the node's log.
 */
import { DiagLogLevel, diag, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, MeterProvider, PeriodicExportingMetricReader, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { BoundHistogramProducer } from './bound-histogram.js';
import type { TelemetryConfig } from './config.js';
import { ExportHealth, RetryingSpanExporter, withExportHealth } from './export.js';
import type { Logger } from './logger.js';
import { NodeHistograms, NodeMetrics, type CounterDefinition } from './metrics.js';

export interface SdkOptions {
  logger: Logger;
  /** `service.instance.id`. */
  nodeId: string;
  /** `service.version`. */
  serviceVersion: string;
  /** The OTEL_* variables (the OTLP exporters read theirs from `process.env`). */
  env: NodeJS.ProcessEnv;
  /** Tests: export spans here (synchronously, whatever the env says) instead of OTLP. @default none */
  spanExporter?: SpanExporter;
  /** Tests: more metric readers, each made with the producers it must read (the bound histograms). @default none */
  metricReaders?: Array<(metricProducers: MetricProducer[]) => MetricReader>;
  /** Node counters apps map guest counters to, made before the node's own. @default none */
  mappedCounters?: readonly CounterDefinition[];
}

/** The running SDK. */
export interface Sdk {
  meterProvider: MeterProvider;
  /** Read by `/metrics` (./metrics-endpoint.ts). */
  prometheus: PrometheusExporter;
  metrics: NodeMetrics;
  tracerProvider: BasicTracerProvider | undefined;
  /** Undefined when tracing is off: then no span is ever made. */
  tracer: Tracer | undefined;
}

export function startSdk(config: TelemetryConfig, options: SdkOptions): Sdk {
  const { env, logger } = options;
  if (env.OTEL_LOG_LEVEL) routeDiagnostics(logger, env.OTEL_LOG_LEVEL);
  const resource = nodeResource(config, options);
  // Export failures are counted by an instrument made below; none can happen before it is.
  const health = new ExportHealth(logger, (signal) => metrics.exportFailures.add(1, { signal }));

  // Every reader reads the SDK's instruments and, through a producer of its own, the bound histograms.
  const histograms = new NodeHistograms();
  const scope = { name: 'edge-aggregator', version: options.serviceVersion };
  const producer = (temporality: AggregationTemporality): MetricProducer => new BoundHistogramProducer(histograms.all, resource, scope, temporality);
  // The exporters pin @opentelemetry/sdk-metrics 2.12.0 and the node has 2.12.1: the classes are the
  // same but TypeScript sees two declarations. They meet only through the MetricReader contract.
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [producer(AggregationTemporality.CUMULATIVE)] as never });
  const readers: MetricReader[] = [prometheus as unknown as MetricReader, ...(options.metricReaders ?? []).map((make) => make([producer(AggregationTemporality.CUMULATIVE)]))];
  if (config.otlpMetrics) {
    const exporter = new OTLPMetricExporter();
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: withExportHealth(exporter, health),
        exportIntervalMillis: config.metricExportIntervalMs,
        exportTimeoutMillis: config.metricExportTimeoutMs,
        // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the exporter read it.
        metricProducers: [producer(exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE)],
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const metrics = new NodeMetrics(meterProvider.getMeter('edge-aggregator', options.serviceVersion), histograms, options.mappedCounters);

  let tracerProvider: BasicTracerProvider | undefined;
  if (config.tracing || options.spanExporter) {
    let processor: SpanProcessor;
    if (options.spanExporter) processor = new SimpleSpanProcessor(options.spanExporter);
    else {
      const exporter = new RetryingSpanExporter(new OTLPTraceExporter(), { health, onDrop: (n) => metrics.spansDropped.add(n) });
      processor = new BatchSpanProcessor(exporter);
    }
    tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [processor], sampler: samplerFromEnv(env) });
  }
  return { meterProvider, prometheus, metrics, tracerProvider, tracer: tracerProvider?.getTracer('edge-aggregator', options.serviceVersion) };
}

function nodeResource(config: TelemetryConfig, options: SdkOptions): Resource {
  // Ours, then OTEL_RESOURCE_ATTRIBUTES over it, then OTEL_SERVICE_NAME over everything (the spec's order).
  let resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'edge-aggregator', [ATTR_SERVICE_VERSION]: options.serviceVersion, 'service.instance.id': options.nodeId }))
    .merge(detectResources({ detectors: [envDetector] }));
  if (options.env.OTEL_SERVICE_NAME?.trim()) resource = resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
  return resource;
}

/**
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the SDK reads them, but from the environment
 * this telemetry was given (the SDK itself reads only `process.env`).
 */
function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const raw = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim() && Number.isFinite(raw) && raw >= 0 && raw <= 1 ? raw : 1;
  switch (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTEL_LOG_LEVEL: the SDK's own diagnostics, into the node's log. */
function routeDiagnostics(logger: Logger, level: string): void {
  const levels: Record<string, DiagLogLevel> = { none: DiagLogLevel.NONE, error: DiagLogLevel.ERROR, warn: DiagLogLevel.WARN, info: DiagLogLevel.INFO, debug: DiagLogLevel.DEBUG, verbose: DiagLogLevel.VERBOSE, all: DiagLogLevel.ALL };
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  diag.setLogger(
    {
      error: (msg, ...args) => logger.error(`otel: ${msg} ${text(args)}`.trim()),
      warn: (msg, ...args) => logger.warn(`otel: ${msg} ${text(args)}`.trim()),
      info: (msg, ...args) => logger.info(`otel: ${msg} ${text(args)}`.trim()),
      debug: (msg, ...args) => logger.debug(`otel: ${msg} ${text(args)}`.trim()),
      verbose: (msg, ...args) => logger.debug(`otel: ${msg} ${text(args)}`.trim()),
    },
    { logLevel: levels[level.toLowerCase()] ?? DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}
