/**
 * Histograms bound to their attribute sets, for the request path.
 *
 * Why not the SDK's `Histogram.record`: it hashes the attribute set on every call to find its series
 * (sort the keys, JSON-encode them), about a microsecond per record, and once more for each extra
 * reader. A write request records three histograms, so that alone was 5% of its CPU. OpenTelemetry's
 * answer is "bound instruments" (specification PR #5050: resolve the series once, record straight
 * into it); the JS SDK has none yet. This is that, and only that: a cell per attribute set, looked up
 * once by the caller, and the explicit-bucket aggregation OpenTelemetry defines (bucket i counts
 * values in (bounds[i-1], bounds[i]]). The cells are handed to the SDK's readers through its
 * `MetricProducer` interface, so Prometheus and OTLP serialize them like any other SDK histogram.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type CollectionResult, type DataPoint, type Histogram, type HistogramMetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';

/** Attribute sets one histogram may hold; beyond it new sets are not recorded (labels must stay bounded). */
const MAX_CELLS = 2_000;

export interface HistogramCell {
  readonly attributes: Attributes;
  /** One count per bucket: `boundaries.length + 1` (the last is (bounds[n-1], +Inf)). */
  readonly counts: Float64Array;
  count: number;
  sum: number;
  min: number;
  max: number;
  readonly startTime: HrTime;
}

export class BoundHistogram {
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly description: string,
    readonly unit: string,
    readonly boundaries: readonly number[],
  ) {}

  /** The cell of an attribute set, made on first use; undefined past the cardinality bound. */
  bind(key: string, attributes: (key: string) => Attributes): HistogramCell | undefined {
    let cell = this.cells.get(key);
    if (!cell && this.cells.size < MAX_CELLS) {
      cell = { attributes: attributes(key), counts: new Float64Array(this.boundaries.length + 1), count: 0, sum: 0, min: Infinity, max: -Infinity, startTime: hrTime() };
      this.cells.set(key, cell);
    }
    return cell;
  }

  record(cell: HistogramCell | undefined, value: number): void {
    if (!cell || !(value >= 0)) return;
    const bounds = this.boundaries;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    cell.counts[i]!++;
    cell.count++;
    cell.sum += value;
    if (value < cell.min) cell.min = value;
    if (value > cell.max) cell.max = value;
  }

  /** Binds and records in one step (for paths that are not hot). */
  recordWith(key: string, attributes: (key: string) => Attributes, value: number): void {
    this.record(this.bind(key, attributes), value);
  }

  allCells(): IterableIterator<HistogramCell> {
    return this.cells.values();
  }
}

/**
 * One per reader: reports the histograms cumulatively, or as deltas since its previous collection
 * when the reader asks for delta temporality (OTLP with OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE).
 */
export class BoundHistogramProducer implements MetricProducer {
  private readonly previous = new WeakMap<HistogramCell, { counts: Float64Array; count: number; sum: number; at: HrTime }>();

  constructor(
    private readonly histograms: readonly BoundHistogram[],
    private readonly resource: Resource,
    private readonly scope: InstrumentationScope,
    private readonly temporality: AggregationTemporality,
  ) {}

  async collect(): Promise<CollectionResult> {
    const now = hrTime();
    const metrics: HistogramMetricData[] = [];
    for (const h of this.histograms) {
      const dataPoints: Array<DataPoint<Histogram>> = [];
      for (const cell of h.allCells()) {
        if (cell.count === 0) continue;
        dataPoints.push(this.temporality === AggregationTemporality.DELTA ? this.delta(h, cell, now) : cumulative(h, cell, now));
      }
      if (dataPoints.length === 0) continue;
      metrics.push({
        descriptor: { name: h.name, description: h.description, unit: h.unit, valueType: ValueType.DOUBLE },
        aggregationTemporality: this.temporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints,
      });
    }
    return { resourceMetrics: { resource: this.resource, scopeMetrics: metrics.length > 0 ? [{ scope: this.scope, metrics }] : [] }, errors: [] };
  }

  private delta(h: BoundHistogram, cell: HistogramCell, now: HrTime): DataPoint<Histogram> {
    const last = this.previous.get(cell);
    const counts = Array.from(cell.counts, (c, i) => c - (last?.counts[i] ?? 0));
    this.previous.set(cell, { counts: cell.counts.slice(), count: cell.count, sum: cell.sum, at: now });
    // A delta's min and max are unknown from cumulative cells; OTLP makes them optional.
    return {
      attributes: cell.attributes,
      startTime: last?.at ?? cell.startTime,
      endTime: now,
      value: { buckets: { boundaries: [...h.boundaries], counts }, count: cell.count - (last?.count ?? 0), sum: cell.sum - (last?.sum ?? 0) },
    };
  }
}

function cumulative(h: BoundHistogram, cell: HistogramCell, now: HrTime): DataPoint<Histogram> {
  return {
    attributes: cell.attributes,
    startTime: cell.startTime,
    endTime: now,
    value: { buckets: { boundaries: [...h.boundaries], counts: Array.from(cell.counts) }, count: cell.count, sum: cell.sum, min: cell.min, max: cell.max },
  };
}
