/**
 * One implementation, one workload, one run: for profiling and for sweeps (BENCHMARKS.md's connection
 * sweep), where the suite's repeats would take too long.
 *
 *   node dist/bench/probe.js --impl node --connections 128 [--batch 1] [--seconds 5] [--cpu-prof DIR]
 *
 * Prints requests/s, readings/s, latency, CPU per request, peak RSS and bytes written per reading. With
 * `--cpu-prof DIR` the server writes a V8 CPU profile there when it stops (open it in Chrome's DevTools).
 */
import { parseArgs } from 'node:util';
import { IMPLS, measure } from './suite.js';

const { values } = parseArgs({
  options: {
    impl: { type: 'string', default: 'node' },
    connections: { type: 'string', default: '128' },
    batch: { type: 'string', default: '1' },
    reads: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '5' },
    'cpu-prof': { type: 'string' },
  },
});

const impl = IMPLS.find((i) => i.name === values.impl);
if (!impl) {
  console.error(`--impl must be one of ${IMPLS.map((i) => i.name).join(', ')}`);
  process.exit(2);
}
const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
const workload = { name: 'probe', batch: Number(values.batch), connections: Number(values.connections), reads: Number(values.reads) };
const m = await measure(impl, workload, Number(values.seconds), undefined, nodeFlags);
console.log(
  `${m.impl} connections=${workload.connections} batch=${workload.batch}: ${m.rps.toFixed(0)} req/s, ${m.readingsPerSecond.toFixed(0)} readings/s, ` +
    `p50 ${m.p50} ms, p99 ${m.p99} ms, CPU ${m.cpuPerRequestUs.toFixed(1)} µs/request, peak RSS ${m.peakRssMiB.toFixed(0)} MiB, ` +
    `${m.bytesPerReading === undefined ? '–' : m.bytesPerReading.toFixed(0)} B written/reading${m.correct ? '' : ', INCORRECT'}`,
);
