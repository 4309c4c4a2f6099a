/**
 * The node's instruments, named once. OpenTelemetry names (dots) become Prometheus names with dots
 * as underscores and `_total` on counters: `edgeagg.readings` is `edgeagg_readings_total`. The full
 * table is in docs/observability.md.
 *
 * Guest-defined counters (`metric_add`) live under `edgeagg.guest.<name>` (docs/abi.md); the node's
 * own instruments therefore never start with `edgeagg.guest`, so no guest can shadow one. An app may
 * also map its guest's counters onto a node counter of its own (./guest-hooks.ts `GuestCounterMapper`;
 * the aggregator's `edgeagg.readings`), declared here when telemetry starts.
 */
import type { Attributes, Counter, Meter, MetricOptions } from '@opentelemetry/api';
import { BoundHistogram } from './bound-histogram.js';

/** OpenTelemetry's advice for `http.server.request.duration`, in seconds. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Guest calls take microseconds to a deadline of at most a second. */
const CALL_DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Commits: an fsync is a millisecond to tens of milliseconds, a slow disk more. */
const COMMIT_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Readings per request (at most 10,000) and requests per commit group (at most 1,024). */
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/** Attribute sets one counter may hold; beyond it new sets are dropped (labels must stay bounded). */
const MAX_CELLS = 2_000;

/**
 * A count per attribute set, kept in a plain map on the hot path and handed to the SDK by an
 * observable counter when a reader collects. The SDK's synchronous `add` hashes the attribute set on
 * every call (about a microsecond); this is a map lookup and an addition, and the exported counter is
 * the same cumulative sum.
 */
export class CumulativeCounter {
  private readonly cells = new Map<string, CounterCell>();

  constructor(meter: Meter, name: string, options: MetricOptions) {
    meter.createObservableCounter(name, options).addCallback((result) => {
      for (const cell of this.cells.values()) result.observe(cell.value, cell.attributes);
    });
  }

  /** Adds `value` to the set named `key`; `attributes` makes the set the first time the key is seen. */
  add(key: string, value: number, attributes: (key: string) => Attributes): void {
    const cell = this.cells.get(key);
    if (cell) cell.value += value;
    else if (this.cells.size < MAX_CELLS) this.cells.set(key, { attributes: attributes(key), value });
  }

  /**
   * The cell of the set named `key` (made, at 0, on first use), for a caller that keeps it and adds to
   * its `value` itself; undefined past the cardinality bound.
   */
  cell(key: string, attributes: (key: string) => Attributes): CounterCell | undefined {
    let cell = this.cells.get(key);
    if (!cell && this.cells.size < MAX_CELLS) this.cells.set(key, (cell = { attributes: attributes(key), value: 0 }));
    return cell;
  }
}

/** One attribute set's running sum in a {@link CumulativeCounter}. */
export interface CounterCell {
  readonly attributes: Attributes;
  value: number;
}

/** The histograms of the request path, bound to their attribute sets (./bound-histogram.ts). */
export class NodeHistograms {
  readonly httpDuration = new BoundHistogram('http.server.request.duration', 'Duration of HTTP server requests.', 's', HTTP_DURATION_BUCKETS);
  readonly batchSize = new BoundHistogram('edgeagg.ingest.batch.size', 'Readings per write request whose group committed.', '{reading}', SIZE_BUCKETS);
  readonly commitDuration = new BoundHistogram(
    'edgeagg.store.commit.duration',
    'Duration of a commit group: its guest calls, the fold, the transaction and the WAL fsync.',
    's',
    COMMIT_DURATION_BUCKETS,
  );
  readonly groupSize = new BoundHistogram(
    'edgeagg.store.commit.group.size',
    'Requests (or batches of replicated events) committed together in one transaction and fsync.',
    '{request}',
    SIZE_BUCKETS,
  );
  readonly callDuration = new BoundHistogram('edgeagg.wasm.call.duration', 'Duration of guest invocations (ea_on_http, ea_on_events), per module and version.', 's', CALL_DURATION_BUCKETS);

  get all(): BoundHistogram[] {
    return [this.httpDuration, this.batchSize, this.commitDuration, this.groupSize, this.callDuration];
  }
}

/** A node counter, as an app declares it for the guest counters it maps (e.g. `edgeagg.readings`). */
export interface CounterDefinition {
  /** The OpenTelemetry name, e.g. `edgeagg.readings` (Prometheus: `edgeagg_readings_total`). */
  name: string;
  description: string;
  /** UCUM, or a `{thing}` annotation, e.g. `{reading}`. */
  unit: string;
}

const GUEST_PREFIX = 'edgeagg.guest.';

export class NodeMetrics {
  readonly callErrors: CumulativeCounter;
  readonly deadlineHits: CumulativeCounter;
  readonly memoryCapHits: CumulativeCounter;
  readonly breakerTransitions: Counter;
  readonly spansDropped: Counter;
  readonly exportFailures: Counter;
  private readonly guestCounters = new Map<string, CumulativeCounter>();
  private readonly mappedCounters = new Map<string, CumulativeCounter>();

  constructor(
    readonly meter: Meter,
    readonly histograms: NodeHistograms,
    mapped: readonly CounterDefinition[] = [],
  ) {
    // First: the exposition lists instruments in the order they were made.
    for (const definition of mapped) this.mappedCounter(definition);
    this.callErrors = new CumulativeCounter(meter, 'edgeagg.wasm.call.errors', {
      description: 'Failed guest invocations by error code (docs/abi.md "Call errors") and, for traps, the kind of trap.',
      unit: '{call}',
    });
    this.deadlineHits = new CumulativeCounter(meter, 'edgeagg.wasm.deadline_exceeded', {
      description: 'Guest invocations stopped at their CPU deadline.',
      unit: '{call}',
    });
    this.memoryCapHits = new CumulativeCounter(meter, 'edgeagg.wasm.memory_cap_hits', {
      description: "Guest invocations that ended with the instance's memory at its cap (a further memory.grow fails).",
      unit: '{call}',
    });
    this.breakerTransitions = meter.createCounter('edgeagg.circuit_breaker.transitions', {
      description: "Transitions of the store's circuit breaker, by the state entered.",
      unit: '{transition}',
    });
    this.spansDropped = meter.createCounter('edgeagg.telemetry.spans.dropped', {
      description: 'Spans dropped because the trace collector was unreachable for longer than the backlog holds.',
      unit: '{span}',
    });
    this.exportFailures = meter.createCounter('edgeagg.telemetry.export.failures', {
      description: 'Failed OTLP exports (each is retried), by signal.',
      unit: '{export}',
    });
  }

  /** The node counter an app maps guest counters to, made on first use (one per name). */
  mappedCounter(definition: CounterDefinition): CumulativeCounter {
    let counter = this.mappedCounters.get(definition.name);
    if (!counter) {
      if (definition.name.startsWith(GUEST_PREFIX)) throw new Error(`${definition.name}: names under ${GUEST_PREFIX} are the guests' own counters`);
      counter = new CumulativeCounter(this.meter, definition.name, { description: definition.description, unit: definition.unit });
      this.mappedCounters.set(definition.name, counter);
    }
    return counter;
  }

  /** The counter of a guest's `metric_add` name, exported as `edgeagg_guest_<name>_total`. */
  guestCounter(name: string): CumulativeCounter {
    let counter = this.guestCounters.get(name);
    if (!counter) {
      counter = new CumulativeCounter(this.meter, `${GUEST_PREFIX}${name}`, { description: `Guest counter "${name}" (metric_add), per module and version.` });
      this.guestCounters.set(name, counter);
    }
    return counter;
  }
}
