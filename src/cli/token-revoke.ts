import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { decodeTokenId } from '../auth/index.js';
import { SETTINGS } from '../node/index.js';
import { SqliteStore } from '../store/index.js';
import { RUNNING_NODE_WAIT_MS, print } from './args.js';

interface RevokeOptions {
  id?: string;
  token?: string;
  subject?: string;
  dataDir?: string;
}

/**
 * `edgeagg token revoke`: records a revocation in the database of a data directory. A node running on
 * it refuses the token within a second; with `--nats`, it sends the revocation to the fleet within a gossip
 * round (5 s), and every node refuses it too (src/replication/revocation-gossip.ts).
 */
export function registerTokenRevoke(program: Command): void {
  const token = program.commands.find((c) => c.name() === 'token') ?? program.command('token').description('tokens for sensors, gateways, readers and admins');
  token
    .command('revoke')
    .description('revoke a token (by its id, or the token itself) or every token of a subject, in the node of --data-dir')
    .option('--id <jti>', 'the id (jti claim) of the token to revoke')
    .option('--token <jwt>', 'the token to revoke (its id is read from it)')
    .option('--subject <sub>', 'revoke every token of this subject (a device id, or gateway/read/admin) issued until now')
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .option('--json', 'print what was revoked as JSON')
    .action((options: RevokeOptions & { json?: boolean }) => {
      const given = [options.id, options.token, options.subject].filter((x) => x !== undefined);
      if (given.length !== 1) throw new Error('choose exactly one of --id JTI, --token JWT, --subject SUB');
      const dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR ?? SETTINGS['data-dir'].default;
      const dbPath = join(dataDir, 'edgeagg.db');
      if (!existsSync(dbPath)) throw new Error(`no node database in ${dataDir}: point --data-dir at the data directory of the node`);
      const revocation =
        options.subject !== undefined
          ? { kind: 'subject' as const, value: nonEmpty(options.subject, '--subject') }
          : { kind: 'token' as const, value: options.id !== undefined ? nonEmpty(options.id, '--id') : decodeTokenId(options.token!) };
      // `replication: true` leaves the replication digests as they are: this process appends no event, so
      // it must not mark them stale for the node.
      const store = SqliteStore.open({ path: dbPath, replication: true, busyTimeoutMs: RUNNING_NODE_WAIT_MS });
      try {
        const revokedAtMs = Date.now();
        store.revokeToken({ ...revocation, revokedAtMs });
        print(
          options.json,
          { revoked: revocation.kind, [revocation.kind === 'token' ? 'token_id' : 'subject']: revocation.value, revoked_at: new Date(revokedAtMs).toISOString() },
          revocation.kind === 'token'
            ? `revoked token ${revocation.value}`
            : `revoked every token of subject ${revocation.value} issued until ${new Date(revokedAtMs).toISOString()}`,
        );
      } finally {
        store.close();
      }
    });
}

function nonEmpty(value: string, flag: string): string {
  if (value.trim() === '') throw new Error(`${flag} needs a value`);
  return value;
}
