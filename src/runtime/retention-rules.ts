/**
 * The `retention` field of a manifest (docs/abi.md, "Retention"): how a guest lays out its time-bucketed
 * keys, so the node can prune old buckets without knowing anything else of the guest's state.
 */

/** The node settings a rule may name: the time a bucket of that class is kept. */
export const RETENTION_CLASSES = ['minute', 'hour'] as const;
export type RetentionClass = (typeof RETENTION_CLASSES)[number];

/**
 * One family of keys: every key of the guest's namespace that starts with `prefix` is `prefix`, then the
 * bucket number as a big-endian u32 (time since the epoch / `unit_ms`), then anything. A bucket is deleted
 * once it ends more than the `keep` class's time ago.
 */
export interface RetentionRule {
  /** 1-8 printable ASCII characters; no rule's prefix may start another's. */
  prefix: string;
  /** Milliseconds per bucket number: 60000 for minutes. */
  unit_ms: number;
  keep: RetentionClass;
}

/** The most rules a manifest may declare. */
export const MAX_RETENTION_RULES = 16;

/** Why `value` is not a valid `retention` field, or undefined when it is (absent is valid). */
export function retentionProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_RETENTION_RULES) return `retention must be a list of at most ${MAX_RETENTION_RULES} rules`;
  const prefixes: string[] = [];
  for (const rule of value as unknown[]) {
    if (rule === null || typeof rule !== 'object') return 'each retention rule must be an object {prefix, unit_ms, keep}';
    const { prefix, unit_ms: unitMs, keep, ...rest } = rule as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return `unknown retention rule field ${Object.keys(rest)[0]}`;
    if (typeof prefix !== 'string' || !/^[\x21-\x7e]{1,8}$/.test(prefix)) return 'a retention prefix must be 1-8 printable ASCII characters';
    if (!Number.isSafeInteger(unitMs) || (unitMs as number) <= 0) return 'a retention unit_ms must be a positive integer';
    if (!(RETENTION_CLASSES as readonly unknown[]).includes(keep)) return `a retention keep must be one of ${RETENTION_CLASSES.join(', ')}`;
    // Overlapping prefixes would read another family's bytes as a bucket number.
    if (prefixes.some((p) => p.startsWith(prefix) || prefix.startsWith(p))) return `retention prefixes overlap: ${prefix}`;
    prefixes.push(prefix);
  }
  return undefined;
}
