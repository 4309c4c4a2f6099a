#!/usr/bin/env -S node --max-semi-space-size=8
// The `edgeagg` command, with the V8 settings the node is measured with (BENCHMARKS.md).
//
// --max-semi-space-size=8: under full load V8 grows its young generation to two 16 MiB semispaces; at
// 8 MiB the node stays under 128 MiB resident at the same throughput (edge devices are small). Starting
// `node dist/src/cli/main.js` directly works too, without this bound.
import '../dist/src/cli/main.js';
