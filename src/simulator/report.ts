/** The simulator's output: a live progress line, a plain periodic line, and the final summary. */
import type { SimulatorStats } from './ledger.js';
import type { SimulatorSummary } from './simulator.js';

const n = (v: number): string => v.toLocaleString('en-US');

/** Turns successive snapshots into lines with rates over the last interval. */
export class ProgressMeter {
  private last: { t: number; sent: number; accepted: number } | undefined;

  constructor(
    /** Planned run length in seconds; 0 when it runs until stopped (no percentage then). */
    private readonly durationS: number,
  ) {}

  /** One terminal line (for `\r` updates), at most `width` characters. */
  line(s: SimulatorStats, width = 100): string {
    const { sent, accepted } = this.rates(s);
    const elapsed = s.elapsedMs / 1000;
    let bar = '';
    if (this.durationS > 0) {
      const f = Math.min(1, elapsed / this.durationS);
      const cells = 16;
      const full = Math.round(f * cells);
      bar = `${'█'.repeat(full)}${'░'.repeat(cells - full)} ${String(Math.round(f * 100)).padStart(3)}% `;
    }
    const parts = [
      `${bar}${elapsed.toFixed(1)}s`,
      `sent ${n(s.sent)} (${sent}/s)`,
      `accepted ${n(s.accepted)} (${accepted}/s)`,
      `dup ${n(s.duplicates)}`,
      `rejected ${n(s.rejected)}`,
      `errors ${n(s.errors)}`,
      `queued ${n(s.queued)}`,
      `offline ${s.offline}/${s.devices}`,
    ];
    let out = parts.join(' │ ');
    while (out.length > width && parts.length > 3) {
      parts.pop();
      out = parts.join(' │ ');
    }
    return out.slice(0, width);
  }

  /** One log line, for output that is not a terminal. */
  plain(s: SimulatorStats): string {
    const { sent, accepted } = this.rates(s);
    return (
      `[${(s.elapsedMs / 1000).toFixed(1)}s] sent=${s.sent} (${sent}/s) accepted=${s.accepted} (${accepted}/s) ` +
      `duplicates=${s.duplicates} rejected=${s.rejected} errors=${s.errors} queued=${s.queued} offline=${s.offline}/${s.devices}`
    );
  }

  private rates(s: SimulatorStats): { sent: string; accepted: string } {
    const prev = this.last;
    this.last = { t: s.elapsedMs, sent: s.sent, accepted: s.accepted + s.duplicates };
    if (!prev || s.elapsedMs <= prev.t) return { sent: '-', accepted: '-' };
    const dt = (s.elapsedMs - prev.t) / 1000;
    return { sent: Math.round((s.sent - prev.sent) / dt).toString(), accepted: Math.round((s.accepted + s.duplicates - prev.accepted) / dt).toString() };
  }
}

function byCode(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? ` (${entries.map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : '';
}

/** The end-of-run report: what was sent, the faults, what the node answered, and the check. */
export function formatSummary(summary: SimulatorSummary): string {
  const { stats: s, run, check } = summary;
  const f = s.faults;
  const o = s.observed;
  const lines = [
    `simulated ${n(run.devices)} sensors in ${run.regions.length} regions (${run.regions.join(', ')}) for ${(s.elapsedMs / 1000).toFixed(1)} s, seed ${run.seed}, ` +
      `${run.tokens === 'device' ? 'one device token per sensor' : run.tokens === 'shared' ? 'one shared token' : 'no token'}`,
    `readings:  ${n(s.generated)} made, ${n(s.sent)} sent; answers: ${n(s.accepted)} accepted, ${n(s.duplicates)} duplicate, ${n(s.rejected)} rejected${byCode(s.rejectedByCode)}`,
    `requests:  ${n(s.requests)} (${n(s.retries)} retries), ${n(s.errors)} failed attempts${byCode(s.errorsByKind)}, ${n(s.lostAnswers)} answers lost on purpose and sent again`,
    `faults:    ${n(f.malformed)} malformed (${n(o.malformedRejected)} rejected with the documented code` +
      `${o.malformedOtherCode ? `, ${n(o.malformedOtherCode)} with another code` : ''}${o.malformedAccepted ? `, ${n(o.malformedAccepted)} ACCEPTED` : ''}); ` +
      `${n(f.outOfOrder)} out of order; ${n(f.late)} late; ${n(f.backlog)} from ${n(f.offlinePeriods)} offline spells; ${n(f.bursts)} bursts` +
      `${f.backfill ? `; ${n(f.backfill)} backfilled` : ''}`,
    `observed:  ${n(o.outOfOrderAccepted)} accepted after a newer reading of their sensor, ${n(o.lateAccepted)} late or backlog readings accepted, ` +
      `up to ${(o.maxLatenessMs / 1000).toFixed(1)} s after they were taken`,
  ];
  const validRejected = Object.values(o.validRejected).reduce((a, b) => a + b, 0);
  if (validRejected > 0) lines.push(`warning:   ${n(validRejected)} valid readings were rejected${byCode(o.validRejected)}`);
  if (s.inDoubt > 0 || s.unsent > 0) lines.push(`undelivered: ${n(s.inDoubt)} sent without an answer, ${n(s.unsent)} never stored (refused or not sent)`);

  if (check.regions.length > 0) {
    lines.push('check:');
    const width = Math.max(...check.regions.map((c) => c.region.length));
    for (const c of check.regions) {
      const a = c.actual;
      const nums = a
        ? `count ${n(a.count)}  sum ${round(a.sum)}  min ${a.min ?? '-'}  max ${a.max ?? '-'}`
        : 'not on the node';
      lines.push(`  ${c.region.padEnd(width)}  ${nums}  ${c.problems.length ? `MISMATCH: ${c.problems.join('; ')}` : 'ok'}`);
    }
  }
  const verdict = check.status === 'pass' ? 'PASS' : check.status === 'fail' ? 'FAIL' : 'CHECK SKIPPED';
  lines.push(`${verdict}: ${check.reason}`);
  return lines.join('\n');
}

function round(v: number): string {
  return Number(v.toFixed(6)).toString();
}
