import type { Command } from 'commander';
import { decodeTokenId, issueToken, readNodeKey, type Scope } from '../auth/index.js';
import { SETTINGS } from '../node/index.js';
import { integerArg, print } from './args.js';

interface TokenOptions {
  device?: string;
  gateway?: boolean;
  read?: boolean;
  admin?: boolean;
  ttl: number;
  dataDir?: string;
  json?: boolean;
}

/** `edgeagg token create`: prints a token signed with the node key of a data directory. */
export function registerTokenCreate(program: Command): void {
  const token = program.command('token').description('tokens for sensors, gateways, readers and admins');
  token
    .command('create')
    .description('print a new token signed with the node key in --data-dir')
    .option('--device <id>', 'a device token: may post readings for this device only')
    .option('--gateway', 'a gateway token: may post readings for any device')
    .option('--read', 'a read token: the API reads, the stream and the dashboard')
    .option('--admin', 'an admin token: everything')
    .option('--ttl <seconds>', 'lifetime in seconds (the node refuses more than its --token-max-lifetime-s)', integerArg(1), 30 * 24 * 3600)
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .option('--json', 'print the token with its scope, subject, id and expiry as JSON')
    .action(async (options: TokenOptions) => {
      const chosen: Scope[] = [];
      if (options.device !== undefined) chosen.push('device');
      if (options.gateway) chosen.push('gateway');
      if (options.read) chosen.push('read');
      if (options.admin) chosen.push('admin');
      if (chosen.length !== 1) throw new Error('choose exactly one of --device ID, --gateway, --read, --admin');
      const dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR ?? SETTINGS['data-dir'].default;
      const scope = chosen[0]!;
      const subject = options.device ?? scope;
      const jwt = await issueToken(readNodeKey(dataDir), { scope, subject: options.device, ttlSeconds: options.ttl });
      const expiresAt = new Date(Date.now() + options.ttl * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      print(options.json, { token: jwt, scope, subject, token_id: decodeTokenId(jwt), expires_at: expiresAt }, jwt);
    });
}
