import type { Command } from 'commander';
import { SETTINGS, createBackup } from '../node/index.js';
import { print } from './args.js';

interface BackupOptions {
  dataDir?: string;
  out: string;
  trustedKeys?: string[];
  force?: boolean;
  json?: boolean;
}

/**
 * `edgeagg backup`: one archive of a node's data directory, taken while the node runs and ingests: the
 * database (SQLite's online backup), the node key, the trusted module keys and the module registry.
 */
export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description("write a consistent backup of a node's data directory to one file, while the node runs")
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .requiredOption('--out <file>', 'the archive to write (outside the data directory)')
    .option('--trusted-keys <files>', 'the PEM public keys the node trusts modules from (comma separated; env EDGEAGG_TRUSTED_KEYS), kept in the backup as trusted-keys/*.pem', list)
    .option('--force', 'replace --out if it exists')
    .option('--json', 'print the archive and its manifest as JSON')
    .action(async (options: BackupOptions) => {
      const dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR ?? SETTINGS['data-dir'].default;
      const trustedKeys = options.trustedKeys ?? list(process.env.EDGEAGG_TRUSTED_KEYS ?? '');
      const { out, bytes, manifest } = await createBackup({ dataDir, out: options.out, trustedKeys, force: options.force });
      print(
        options.json,
        { out, bytes, ...manifest },
        `backup of ${manifest.node_id ?? 'a node without a key'} (schema ${manifest.schema_version}, ${manifest.created_at}) written to ${out}: ` +
          `${manifest.members.length} files, ${bytes} bytes`,
      );
    });
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
