/** The `edgeagg` command. Each subcommand lives in its own file and registers itself here. */
import { Command } from 'commander';
import { packageVersion } from '../node/index.js';
import { registerBuild } from './build.js';
import { registerDeploy } from './deploy.js';
import { registerCluster } from './cluster.js';
import { registerKeygen } from './keygen.js';
import { registerNew } from './new.js';
import { registerServe } from './serve.js';
import { registerSign } from './sign.js';
import { registerSimulate } from './simulate.js';
import { registerStatus } from './status.js';
import { registerTokenCreate } from './token-create.js';
import { registerTokenRevoke } from './token-revoke.js';
import { registerVerify } from './verify.js';
import { registerDbCheck } from './db-check.js';
import { registerBackup } from './backup.js';
import { registerExport } from './export.js';
import { registerRestore } from './restore.js';

export function createProgram(): Command {
  const program = new Command()
    .name('edgeagg')
    .description('edge-aggregator: a self-hosted edge runtime for sandboxed WebAssembly handlers')
    .version(packageVersion(), '-V, --version', 'print the version')
    // `edgeagg --version` is the program's; `edgeagg sign --version 1.0.0` is the module's.
    .enablePositionalOptions()
    .showHelpAfterError();
  registerServe(program);
  registerStatus(program);
  registerTokenCreate(program);
  registerTokenRevoke(program);
  registerKeygen(program);
  registerSign(program);
  registerNew(program);
  registerBuild(program);
  registerVerify(program);
  registerDeploy(program);
  registerSimulate(program);
  registerCluster(program);
  registerBackup(program);
  registerRestore(program);
  registerExport(program);
  registerDbCheck(program);
  return program;
}
