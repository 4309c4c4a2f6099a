#!/usr/bin/env node
/** Runs the `edgeagg` command (bin/edgeagg.js starts this file with the node's memory flags). */
import { createProgram } from './program.js';

createProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`edgeagg: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
