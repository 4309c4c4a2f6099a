/**
 * The write path's hook (src/ingest `PipelineObserver`): commit durations and group sizes, the guest
 * counters of each request applied once (and only if) its group commits, and, when tracing, a
 * `store.commit` span under each traced request with the group's fold drawn beneath it.
 */
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { guestCallSpan, type GuestHooks } from './guest-hooks.js';
import type { NodeMetrics } from './metrics.js';
import { RequestScope, runInGroup, runInScope, withSpan, type GroupTrace } from './scope.js';

/** What the write path reports after each commit group (src/ingest GroupCommit). */
export interface CommitGroupReport {
  size: number;
  durationMs: number;
  failed: boolean;
  /** The transaction committed (true also when only the fsync after it failed). */
  committed: boolean;
}

export class PipelineObserver {
  constructor(
    private readonly metrics: NodeMetrics,
    private readonly tracer: Tracer | undefined,
    private readonly guest: GuestHooks,
  ) {}

  /**
   * A request's unit of work inside its group. Its guest counters are held until the group commits: a
   * job can be run twice (a group whose fold fails is retried request by request) or rolled back, and
   * a reading must be counted once, and only if it was kept.
   */
  job<T>(trace: unknown, fn: () => T): T {
    if (!(trace instanceof RequestScope)) return fn();
    trace.pending = undefined;
    trace.buffering = true;
    try {
      return runInScope(trace, fn);
    } catch (error) {
      trace.pending = undefined;
      throw error;
    } finally {
      trace.buffering = false;
    }
  }

  /** A whole group's execution: its traced requests share one record of the group's folds. */
  execute<T>(traces: readonly unknown[], fn: () => T): T {
    if (!this.tracer) return fn();
    let group: GroupTrace | undefined;
    for (const t of traces) {
      if (t instanceof RequestScope && t.span) t.group = group ??= { folds: [] };
    }
    return group ? runInGroup(group, fn) : fn();
  }

  /** After each group: its outcome, and its requests' held counters applied if it committed. */
  group(report: CommitGroupReport, traces: readonly unknown[]): void {
    const h = this.metrics.histograms;
    const outcome = !report.failed ? 'committed' : report.committed ? 'sync_failed' : 'rolled_back';
    h.commitDuration.recordWith(outcome, () => ({ outcome }), report.durationMs / 1000);
    h.groupSize.recordWith('', () => ({}), report.size);
    const end = performance.now();
    for (const t of traces) {
      if (!(t instanceof RequestScope)) continue;
      if (t.pending) {
        if (report.committed) this.guest.applyPending(t.pending);
        t.pending = undefined;
      }
      if (t.span) this.commitSpans(t, report, end);
      t.group = undefined;
    }
  }

  private commitSpans(scope: RequestScope, report: CommitGroupReport, end: number): void {
    const tracer = this.tracer!;
    const span = tracer.startSpan(
      'store.commit',
      {
        kind: SpanKind.INTERNAL,
        startTime: end - report.durationMs,
        attributes: { 'edgeagg.commit.group_size': report.size, 'edgeagg.commit.committed': report.committed },
      },
      scope.context(withSpan),
    );
    if (report.failed) span.setStatus({ code: SpanStatusCode.ERROR, message: report.committed ? 'fsync failed' : 'transaction failed' });
    const folds = scope.group?.folds ?? [];
    if (folds.length > 0) {
      const parent = withSpan(span);
      for (const f of folds) guestCallSpan(tracer, { module: f.module, version: f.version, trigger: 'events', start: f.end - f.durationMs, end: f.end, error: f.error, trap: undefined }, parent);
    }
    span.end(end);
  }
}
