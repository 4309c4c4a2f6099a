/**
 * What telemetry keeps per request, and which request the code running *right now* works for.
 *
 * Guest calls are synchronous (src/runtime), so "the current request" needs no async context
 * machinery: the hooks set it around a call and restore it after, and the runtime's callbacks
 * (`onCall`, `onMetric`, `onLog`) read it. That costs a variable write, where AsyncLocalStorage would
 * cost a context object per request and per await.
 */
import { ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import type { HistogramCell } from './bound-histogram.js';
import type { CounterCell } from './metrics.js';

/** A guest fold of a commit group, kept to be drawn under each request's commit span. */
export interface FoldTiming {
  end: number;
  durationMs: number;
  module: string;
  version: string;
  error: string | undefined;
}

/** The requests of one commit group while it executes (only when tracing). */
export interface GroupTrace {
  folds: FoldTiming[];
}

/** Where one guest counter of one module version is counted (./guest-hooks.ts). */
export interface GuestMetricCells {
  /** `edgeagg.guest.<name>` for the module version. */
  counter: CounterCell | undefined;
  /** The node counter an app mapped the guest counter to (e.g. `edgeagg.readings`), else undefined. */
  mapped: CounterCell | undefined;
  /** `edgeagg.ingest.batch.size` of the module version, when the mapping counts a request's items. */
  batchSize: HistogramCell | undefined;
}

export class RequestScope {
  /** The route template, once the server matched one. */
  route: string | undefined = undefined;
  /** `performance.now()` at arrival. */
  readonly startedAt: number;
  /** The server span; undefined when tracing is off or the request was not sampled. */
  span: Span | undefined = undefined;
  /** The context holding `span`, made on first use (child spans). */
  private spanContext: Context | undefined = undefined;
  /** Guest counter increments of the request's write, applied once its group commits: (counter, value) pairs. */
  pending: Array<GuestMetricCells | number> | undefined = undefined;
  /** True while the request's job runs inside its group. */
  buffering = false;
  /** The commit group it joined (only when tracing). */
  group: GroupTrace | undefined = undefined;

  constructor(
    readonly requestId: string,
    readonly method: string,
  ) {
    this.startedAt = performance.now();
  }

  context(make: (span: Span) => Context): Context | undefined {
    if (!this.span) return undefined;
    return (this.spanContext ??= make(this.span));
  }
}

let current: RequestScope | undefined;
let currentGroup: GroupTrace | undefined;

/** The request the running code works for, if any. */
export function currentScope(): RequestScope | undefined {
  return current;
}

export function currentGroupTrace(): GroupTrace | undefined {
  return currentGroup;
}

/** Runs `fn` with `scope` as the current request. */
export function runInScope<T>(scope: RequestScope, fn: () => T): T {
  const previous = current;
  current = scope;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** Runs `fn` (a commit group's execution) with `group` current. */
export function runInGroup<T>(group: GroupTrace, fn: () => T): T {
  const previous = currentGroup;
  currentGroup = group;
  try {
    return fn();
  } finally {
    currentGroup = previous;
  }
}

/** Makes the context holding a span (child spans are made under it). */
export function withSpan(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}
