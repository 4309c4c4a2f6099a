#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
// The `edgeagg` command, with the V8 settings the node is measured with (BENCHMARKS.md).
//
// Requests wait a few milliseconds for their group's fsync, long enough for V8 to promote many of them to
// the old generation, where they die. By default V8 then lets the old generation grow to several times its
// live size before collecting it, and grows the young generation to two 16 MiB halves: under full load
// the node reached 130-155 MiB resident. With 8 MiB halves and a major collection once the old generation
// grew by half, it stays near 110 MiB at the same throughput within the benchmark's noise (edge devices are
// small). Starting `node dist/src/cli/main.js` directly works too, without this bound.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `npm ci` builds it (the prepare script), unless scripts were turned off.
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(`edgeagg is not built: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}`);
  process.exit(1);
}
await import(main.href);
