/** The `edgeagg` command. Each subcommand lives in its own file and registers itself here. */
import { Command } from 'commander';
import { registerCluster } from './cluster.js';
import { registerKeygen } from './keygen.js';
import { registerServe } from './serve.js';
import { registerSign } from './sign.js';
import { registerSimulate } from './simulate.js';
import { registerTokenCreate } from './token-create.js';
import { registerVerify } from './verify.js';

export function createProgram(): Command {
  const program = new Command()
    .name('edgeagg')
    .description('edge-aggregator: a self-hosted edge runtime for sandboxed WebAssembly handlers')
    .showHelpAfterError();
  registerServe(program);
  registerTokenCreate(program);
  registerKeygen(program);
  registerSign(program);
  registerVerify(program);
  registerSimulate(program);
  registerCluster(program);
  return program;
}
