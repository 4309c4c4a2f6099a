/** The `edgeagg` command line: the public face of src/cli (src/cli/main.ts runs it). */
export { createProgram } from './program.js';
