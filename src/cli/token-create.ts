import type { Command } from 'commander';
import { issueToken, readNodeKey, type Scope } from '../auth/index.js';
import { SETTINGS } from '../node/index.js';

interface TokenOptions {
  device?: string;
  gateway?: boolean;
  read?: boolean;
  admin?: boolean;
  ttl: string;
  dataDir?: string;
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
    .option('--ttl <seconds>', 'lifetime in seconds', String(30 * 24 * 3600))
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .action(async (options: TokenOptions) => {
      const chosen: Scope[] = [];
      if (options.device !== undefined) chosen.push('device');
      if (options.gateway) chosen.push('gateway');
      if (options.read) chosen.push('read');
      if (options.admin) chosen.push('admin');
      if (chosen.length !== 1) throw new Error('choose exactly one of --device ID, --gateway, --read, --admin');
      const dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR ?? SETTINGS['data-dir'].default;
      const ttl = Number(options.ttl);
      const jwt = await issueToken(readNodeKey(dataDir), { scope: chosen[0]!, subject: options.device, ttlSeconds: ttl });
      process.stdout.write(`${jwt}\n`);
    });
}
