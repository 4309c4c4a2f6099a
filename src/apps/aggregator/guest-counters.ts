/** Totals of the aggregator's counters (its `metric_add` calls), shaped for `GET /v1/node`. */
export interface ReadingCounts {
  accepted: number;
  duplicates: number;
  /** Rejected readings by error code. */
  rejected: Record<string, number>;
}

export class GuestCounters {
  private readonly totals = new Map<string, number>();

  add(name: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  snapshot(): ReadingCounts {
    const rejected: Record<string, number> = {};
    for (const [name, value] of this.totals) {
      if (name.startsWith(REJECTED_PREFIX)) rejected[name.slice(REJECTED_PREFIX.length)] = value;
    }
    return { accepted: this.totals.get('readings_accepted') ?? 0, duplicates: this.totals.get('readings_duplicate') ?? 0, rejected };
  }
}

const REJECTED_PREFIX = 'readings_rejected_';
