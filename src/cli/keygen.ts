import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateSigningKey } from '../runtime/index.js';

/** `edgeagg keygen`: a new Ed25519 key pair for signing modules. */
export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an Ed25519 key pair for signing modules: PREFIX.key.pem (private) and PREFIX.pub.pem')
    .requiredOption('--out <prefix>', 'path prefix of the two files')
    .action((options: { out: string }) => {
      const key = generateSigningKey();
      // The private key is written first and readable by its owner only.
      writeFileSync(`${options.out}.key.pem`, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${options.out}.pub.pem`, key.publicKeyPem, { flag: 'wx' });
      process.stdout.write(`key id ${key.keyId}\nprivate key: ${options.out}.key.pem\npublic key:  ${options.out}.pub.pem\n`);
    });
}
