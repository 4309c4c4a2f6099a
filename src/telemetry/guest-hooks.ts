/**
 * The runtime's hooks (src/runtime `RuntimeOptions.onCall` / `onMetric`): guest call durations, errors,
 * deadline and memory-cap hits, guest spans, and the guests' own counters (`metric_add`), which an app
 * may also map onto node counters of its own ({@link GuestCounterMapper}).
 */
import { SpanKind, SpanStatusCode, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import type { HistogramCell } from './bound-histogram.js';
import type { CounterCell, CounterDefinition, NodeMetrics } from './metrics.js';
import { currentGroupTrace, currentScope, withSpan, type GuestMetricCells, type RequestScope } from './scope.js';

/** What the runtime reports after each guest call (src/runtime CallReport). */
export interface GuestCallReport {
  module: string;
  version: string;
  trigger: string;
  durationMs: number;
  /** The call error's code, when it failed. */
  error?: string;
  /** For a trap: the engine's message ("unreachable", "memory access out of bounds", ...). */
  trap?: string;
  /** The instance's memory when the call ended, and the most it may grow to, in bytes. */
  memoryBytes?: number;
  memoryLimitBytes?: number;
}

/**
 * How an app turns some of its guest's counters into a node counter of its own, beside the guest's
 * `edgeagg.guest.<name>` (e.g. the aggregator's `readings_*` counters into `edgeagg.readings`; see
 * src/apps/aggregator/metrics.ts).
 */
export interface GuestCounterMapper {
  /** The node counter mapped increments add to; made when telemetry starts. */
  instrument: CounterDefinition;
  /**
   * The attributes, beside `module` and `version`, of a guest counter's increments in `instrument`;
   * undefined: this mapper does not map that counter. Asked once per module version and counter name.
   */
  attributes(counter: string): Attributes | undefined;
  /**
   * The mapped increments count the items of a write request: their sum per committed request is
   * recorded in `edgeagg.ingest.batch.size`. @default false
   */
  batchSize?: boolean;
}

type ModuleRef = { name: string; version: string };

export class GuestHooks {
  private lastCall: { module: string; version: string; trigger: string; error: string | undefined; cell: HistogramCell | undefined } | undefined;
  /** Per module version (the runtime's module object), per counter name: see guestMetricCells. */
  private readonly guestCells = new WeakMap<object, Map<string, GuestMetricCells>>();

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly tracer: Tracer | undefined,
    private readonly mappers: readonly GuestCounterMapper[] = [],
  ) {}

  /** After every guest call. */
  readonly onCall = (report: GuestCallReport): void => {
    const m = this.metrics;
    const { module, version, trigger, error } = report;
    m.histograms.callDuration.record(this.callCell(report), report.durationMs / 1000);
    if (error) {
      const trap = error === 'guest_trap' ? trapKind(report.trap) : undefined;
      m.callErrors.add(`${module}@${version} ${trigger} ${error} ${trap ?? ''}`, 1, () => ({ ...callAttributes(report), ...(trap ? { trap } : {}) }));
      if (error === 'deadline_exceeded') m.deadlineHits.add(`${module}@${version} ${trigger}`, 1, () => ({ module, version, trigger }));
    }
    if (report.memoryBytes !== undefined && report.memoryLimitBytes !== undefined && report.memoryBytes >= report.memoryLimitBytes) {
      m.memoryCapHits.add(`${module}@${version} ${trigger}`, 1, () => ({ module, version, trigger }));
    }
    if (!this.tracer) return;
    const scope = currentScope();
    const end = performance.now();
    if (scope?.span) {
      guestCallSpan(this.tracer, { module, version, trigger, start: end - report.durationMs, end, error, trap: report.trap }, scope.context(withSpan));
    } else if (trigger === 'events') {
      // A commit group's fold: drawn under each traced request's commit span once the group is done.
      currentGroupTrace()?.folds.push({ end, durationMs: report.durationMs, module, version, error });
    }
  };

  /** A guest's `metric_add`. */
  readonly onMetric = (module: ModuleRef, name: string, value: number): void => {
    if (!(value > 0)) return; // counters only go up
    const cells = this.guestMetricCells(module, name);
    const scope = currentScope();
    if (scope?.buffering) {
      (scope.pending ??= []).push(cells, value);
      return;
    }
    applyMetric(cells, value);
  };

  /** Applies the guest counter increments a request's write held until its group committed. */
  applyPending(pending: NonNullable<RequestScope['pending']>): void {
    let items = 0;
    let batchSize: HistogramCell | undefined;
    for (let i = 0; i < pending.length; i += 2) {
      const cells = pending[i] as GuestMetricCells;
      const value = pending[i + 1] as number;
      applyMetric(cells, value);
      if (cells.batchSize) {
        items += value;
        batchSize = cells.batchSize;
      }
    }
    if (items > 0) this.metrics.histograms.batchSize.record(batchSize, items);
  }

  /**
   * The cells a guest counter of a module version adds to, found once: on the write path every request
   * counts its readings, and building the keys each time (strings, closures, map lookups) cost more than
   * the rest of the metrics together.
   */
  private guestMetricCells(module: ModuleRef, name: string): GuestMetricCells {
    let byName = this.guestCells.get(module);
    if (byName === undefined) this.guestCells.set(module, (byName = new Map()));
    let cells = byName.get(name);
    if (cells === undefined) {
      const m = this.metrics;
      const { name: mod, version } = module;
      const key = `${mod}@${version}`;
      let mapped: CounterCell | undefined;
      let batchSize: HistogramCell | undefined;
      for (const mapper of this.mappers) {
        const attributes = mapper.attributes(name);
        if (attributes === undefined) continue;
        mapped = m.mappedCounter(mapper.instrument).cell(`${key} ${name}`, () => ({ module: mod, version, ...attributes }));
        if (mapper.batchSize) batchSize = m.histograms.batchSize.bind(key, () => ({ module: mod, version }));
        break;
      }
      cells = { counter: m.guestCounter(name).cell(key, () => ({ module: mod, version })), mapped, batchSize };
      // A guest has a bounded number of counter names (LIMITS.metricNames), so this map is bounded too.
      byName.set(name, cells);
    }
    return cells;
  }

  /** The duration cell of a call's (module, version, trigger, error): the last one is kept at hand. */
  private callCell(report: GuestCallReport): HistogramCell | undefined {
    const last = this.lastCall;
    if (last && last.module === report.module && last.version === report.version && last.trigger === report.trigger && last.error === report.error) return last.cell;
    const cell = this.metrics.histograms.callDuration.bind(`${report.module}@${report.version} ${report.trigger} ${report.error ?? ''}`, () => callAttributes(report));
    this.lastCall = { module: report.module, version: report.version, trigger: report.trigger, error: report.error, cell };
    return cell;
  }
}

function applyMetric(cells: GuestMetricCells, value: number): void {
  if (cells.counter) cells.counter.value += value;
  if (cells.mapped) cells.mapped.value += value;
}

/** The span of one guest call (`guest <module> <trigger>`), drawn after the fact. */
export function guestCallSpan(
  tracer: Tracer,
  call: { module: string; version: string; trigger: string; start: number; end: number; error: string | undefined; trap: string | undefined },
  parent: Context | undefined,
): void {
  const span = tracer.startSpan(
    `guest ${call.module} ${call.trigger}`,
    { kind: SpanKind.INTERNAL, startTime: call.start, attributes: { 'edgeagg.guest.module': call.module, 'edgeagg.guest.version': call.version, 'edgeagg.guest.trigger': call.trigger } },
    parent,
  );
  if (call.error) {
    span.setAttribute('error.type', call.error);
    if (call.trap) span.setAttribute('edgeagg.guest.trap', trapKind(call.trap));
    span.setStatus({ code: SpanStatusCode.ERROR, message: call.error });
  }
  span.end(call.end);
}

function callAttributes(report: GuestCallReport): Attributes {
  const attrs: Attributes = { module: report.module, version: report.version, trigger: report.trigger };
  if (report.error) attrs['error.type'] = report.error;
  return attrs;
}

/** The engine's trap message, as a closed set (a label must stay low-cardinality). */
export function trapKind(message: string | undefined): string {
  const m = (message ?? '').toLowerCase();
  if (m.includes('unreachable')) return 'unreachable';
  if (m.includes('memory access out of bounds')) return 'memory_out_of_bounds';
  if (m.includes('table index') || m.includes('signature mismatch') || m.includes('null function')) return 'indirect_call';
  if (m.includes('divide by zero') || m.includes('remainder by zero')) return 'divide_by_zero';
  if (m.includes('unrepresentable') || m.includes('integer overflow')) return 'invalid_conversion';
  if (m.includes('out of bounds')) return 'out_of_bounds';
  return 'other';
}
