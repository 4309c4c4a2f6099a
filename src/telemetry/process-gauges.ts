/**
 * The process and the Node runtime, read at each collection, under OpenTelemetry's semantic-convention
 * names (`process.*`, `v8js.*`, `nodejs.*`): what a Grafana dashboard for any Node service shows.
 */
import type { Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export function observeProcess(meter: Meter): void {
  meter.createObservableCounter('process.cpu.time', { description: 'CPU time the node process used, by mode.', unit: 's' }).addCallback((r) => {
    const { user, system } = process.cpuUsage();
    r.observe(user / 1e6, { 'cpu.mode': 'user' });
    r.observe(system / 1e6, { 'cpu.mode': 'system' });
  });
  meter.createObservableGauge('process.memory.usage', { description: 'Resident set size of the node process.', unit: 'By' }).addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter.createObservableGauge('v8js.memory.heap.used', { description: "V8's heap in use.", unit: 'By' }).addCallback((r) => r.observe(process.memoryUsage().heapUsed));
  meter.createObservableGauge('process.uptime', { description: 'Time since the node process started.', unit: 's' }).addCallback((r) => r.observe(process.uptime()));

  // Sampled every 20 ms: a blocked event loop (a long guest call, a large fold) shows as delay here.
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  meter.createObservableGauge('nodejs.eventloop.delay', { description: 'Event loop delay since the previous collection, by quantile.', unit: 's' }).addCallback((r) => {
    for (const q of [50, 90, 99]) r.observe(delay.percentile(q) / 1e9, { quantile: String(q / 100) });
    r.observe(delay.max / 1e9, { quantile: '1' });
    delay.reset();
  });
}
