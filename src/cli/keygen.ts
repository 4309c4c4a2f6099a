import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateSigningKey } from '../runtime/index.js';
import { print } from './args.js';

/** `edgeagg keygen`: a new Ed25519 key pair for signing modules. */
export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an Ed25519 key pair for signing modules: PREFIX.key.pem (private) and PREFIX.pub.pem')
    .requiredOption('--out <prefix>', 'path prefix of the two files')
    .option('--json', 'print the key id and the two paths as JSON')
    .action((options: { out: string; json?: boolean }) => {
      const key = generateSigningKey();
      // The private key is written first and readable by its owner only.
      writeFileSync(`${options.out}.key.pem`, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${options.out}.pub.pem`, key.publicKeyPem, { flag: 'wx' });
      const files = { key_id: key.keyId, private_key: `${options.out}.key.pem`, public_key: `${options.out}.pub.pem` };
      print(options.json, files, `key id ${files.key_id}\nprivate key: ${files.private_key}\npublic key:  ${files.public_key}`);
    });
}
