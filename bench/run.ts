/**
 * `npm run bench`: the benchmark suite. Prints each figure; BENCHMARKS.md records them with the
 * date, the machine and this command.
 */
import os from 'node:os';
import { runtimeOverhead } from './runtime-overhead.js';

const quick = process.argv.includes('--quick');

console.log(`# edge-aggregator benchmarks ${new Date().toISOString()}`);
console.log(`# node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB${quick ? ', --quick' : ''}`);

console.log('\n## sandbox (bench/runtime-overhead.ts)');
for (const [k, v] of Object.entries(await runtimeOverhead())) {
  console.log(`${k.padEnd(28)} ${k.endsWith('bytes') ? v.toFixed(0) : v.toFixed(3)}`);
}
