/**
 * What a Prometheus user expects of any service beside its own metrics: the process (CPU, memory,
 * uptime), the Node runtime (heap, event loop delay) and, for this node, the database's size on disk.
 * Every name carries its unit (`_seconds`, `_bytes`), as OpenTelemetry's Prometheus rules say.
 */
import { describe, expect, it } from 'vitest';
import { useNodeProcess } from '../helpers/node-for-file.js';
import type { NodeProcess } from '../helpers/node-process.js';

let node: NodeProcess;
useNodeProcess((n) => (node = n));

/** The sample values of a series in Prometheus text (every label set). */
function samples(text: string, name: string): number[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
}

describe('process, runtime and database metrics', () => {
  it('are exported under names that carry their units, with plausible values', async () => {
    const text = await (await node.fetch('/metrics')).text();
    const cpu = samples(text, 'process_cpu_time_seconds_total');
    expect(cpu.length).toBe(2);
    expect(cpu.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const rss = samples(text, 'process_memory_usage_bytes');
    expect(rss[0]).toBeGreaterThan(10 * 2 ** 20);
    expect(samples(text, 'v8js_memory_heap_used_bytes')[0]).toBeGreaterThan(0);
    expect(samples(text, 'process_uptime_seconds')[0]).toBeGreaterThan(0);
    expect(samples(text, 'nodejs_eventloop_delay_seconds').length).toBe(4);
    // The schema alone takes a few pages; the size is whole pages.
    const size = samples(text, 'edgeagg_db_size_bytes')[0]!;
    expect(size).toBeGreaterThan(4096);
    expect(size % 1024).toBe(0);
    expect(samples(text, 'edgeagg_db_free_bytes')[0]).toBeGreaterThanOrEqual(0);
    // Commit groups are journaled: with direct I/O, or through the page cache where the file system has none (tmpfs).
    const journal = new Map(['direct', 'page_cache', 'paused', 'off'].map((state) => [state, Number(new RegExp(`edgeagg_write_journal_state\\{state="${state}"[^}]*\\} (\\d)`).exec(text)?.[1])]));
    expect(journal.get('direct')! + journal.get('page_cache')!).toBe(1);
    expect(journal.get('paused')! + journal.get('off')!).toBe(0);
    expect(samples(text, 'edgeagg_write_journal_held')[0]).toBeGreaterThanOrEqual(0);
  });

  it('shows the database grow as readings are stored', async () => {
    const size = async (): Promise<number> => samples(await (await node.fetch('/metrics')).text(), 'edgeagg_db_size_bytes')[0]!;
    const before = await size();
    const token = await node.token('gateway');
    const now = Date.now();
    for (let batch = 0; batch < 5; batch++) {
      const readings = Array.from({ length: 2_000 }, (_, i) => ({ device_id: `grow-${i}`, region: `r-${i % 7}`, temperature_c: 20, timestamp: now - 60_000 - batch * 5_000 - (i % 1000) }));
      const res = await node.postReadings(readings, token);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(await size()).toBeGreaterThan(before);
    // The requests above are in the HTTP histogram, whose name carries its unit.
    const text = await (await node.fetch('/metrics')).text();
    expect(text).toMatch(/^# TYPE http_server_request_duration_seconds histogram$/m);
    expect(text).not.toMatch(/^# TYPE http_server_request_duration histogram$/m);
    // What storing them wrote to disk, in all and per reading (flash wear): fsynced WAL pages at least.
    const written = samples(text, 'edgeagg_disk_written_bytes_total')[0]!;
    expect(written).toBeGreaterThan(0);
    const perReading = samples(text, 'edgeagg_disk_written_per_reading_bytes')[0]!;
    expect(perReading).toBeGreaterThan(0);
    expect(perReading).toBeLessThan(written);
  });
});
