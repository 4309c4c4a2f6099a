/**
 * `npm run bench [-- --quick]`: the benchmark suite. Prints each figure; BENCHMARKS.md records them
 * with the date, the machine and this command.
 */
import os from 'node:os';
import { durabilityBench } from './durability.js';
import { runtimeOverhead } from './runtime-overhead.js';
import { measureStoreWriteBytes } from './store-write-bytes.js';
import { runSuite } from './suite.js';
import { guestLanguages } from './guest-languages.js';
import { writeAmplificationBench } from './write-amplification.js';
import { deploymentsBench } from './deployments.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const want = (part: string): boolean => !only || only.split(',').includes(part);

console.log(`# edge-aggregator benchmarks ${new Date().toISOString()}`);
console.log(`# node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB${quick ? ', --quick' : ''}`);

if (want('ingest')) {
  console.log('\n## ingest: node vs baselines (bench/suite.ts)');
  for (const line of await runSuite({ quick, log: (l) => console.error(l) })) console.log(line);
}

if (want('sandbox')) {
  console.log('\n## sandbox (bench/runtime-overhead.ts)');
  for (const [k, v] of Object.entries(await runtimeOverhead())) {
    console.log(`${k.padEnd(44)} ${k.endsWith('bytes') ? v.toFixed(0) : v.toFixed(3)}`);
  }
}

if (want('languages')) {
  console.log('\n## guests in three languages (bench/guest-languages.ts)');
  for (const line of await guestLanguages()) console.log(line);
}

if (want('store')) {
  console.log('\n## store, bytes written per reading (bench/store-write-bytes.ts)');
  for (const fold of ['m', 'mht'] as const) {
    const r = measureStoreWriteBytes({ fold, events: quick ? 50_000 : 200_000 });
    const perReading = r.writeBytes / r.appended;
    console.log(`fold=${fold.padEnd(4)} ${perReading.toFixed(0)} B/reading, ${Math.round(r.appended / r.seconds)} readings/s (transactions of ${r.batch})`);
  }
}

if (want('durability') && !quick) {
  console.log('\n## durable ingest and overload (bench/durability.ts)');
  for (const line of await durabilityBench(quick)) console.log(line);
}

if (want('flash')) {
  console.log('\n## flash wear: bytes written per reading at real rates, open loop (bench/write-amplification.ts)');
  for (const line of await writeAmplificationBench(quick)) console.log(line);
}

if (want('deployments')) {
  console.log('\n## deployments: deploy, state build, swap latency, canary rollback (bench/deployments.ts)');
  for (const line of await deploymentsBench(quick ? 50_000 : 200_000)) console.log(line);
}
