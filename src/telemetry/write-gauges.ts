/**
 * What the node writes to its disk (issue 17, flash wear): the bytes the process made the kernel write
 * (`write_bytes` of /proc/self/io: WAL appends, checkpoints, fsynced pages, on Linux) and, per reading
 * accepted since the start, how many bytes that is. Elsewhere than Linux neither is reported.
 */
import type { Meter } from '@opentelemetry/api';
import { readFileSync } from 'node:fs';

/** Bytes this process has caused to be written to storage, or undefined where /proc/self/io is not. */
export function processWriteBytes(): number | undefined {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `accepted`: readings accepted since the process started. */
export function observeWrites(meter: Meter, accepted: () => number): void {
  const atStart = processWriteBytes();
  if (atStart === undefined) return;
  meter.createObservableCounter('edgeagg.disk.written', { description: 'Bytes the node process wrote to storage (/proc/self/io write_bytes).', unit: 'By' }).addCallback((r) => {
    const now = processWriteBytes();
    if (now !== undefined) r.observe(now);
  });
  meter
    .createObservableGauge('edgeagg.disk.written_per_reading', { description: 'Bytes written to storage per reading accepted, since the node started: its flash wear per reading.', unit: 'By' })
    .addCallback((r) => {
      const n = accepted();
      const now = processWriteBytes();
      if (n > 0 && now !== undefined) r.observe((now - atStart) / n);
    });
}
