import type { Command } from 'commander';
import { restoreBackup } from '../node/index.js';
import { print } from './args.js';

interface RestoreOptions {
  in: string;
  dataDir: string;
  force?: boolean;
  json?: boolean;
}

/**
 * `edgeagg restore`: a data directory from an `edgeagg backup` archive, checked member by member and put in
 * place whole. A node started on it has the same key (so it accepts the same tokens) and the same data.
 */
export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('make a data directory from a backup: checks every file, then puts the directory in place whole')
    .requiredOption('--in <file>', 'the archive written by edgeagg backup')
    .requiredOption('--data-dir <dir>', 'the data directory to create (new or empty, unless --force)')
    .option('--force', 'replace a data directory that holds files (never one a node is running on)')
    .option('--json', 'print what was restored as JSON')
    .action((options: RestoreOptions) => {
      const restored = restoreBackup({ archive: options.in, dataDir: options.dataDir, force: options.force });
      const { manifest } = restored;
      const lines = [
        `restored ${manifest.node_id ?? 'the backup'} (taken ${manifest.created_at} by edge-aggregator ${manifest.package_version}, schema ${manifest.schema_version}) into ${restored.dataDir}`,
      ];
      if (restored.trustedKeys.length > 0) {
        lines.push(`module keys: ${restored.trustedKeys.join(', ')} (the node reads <data-dir>/trusted-keys/*.pem at start: no --trusted-keys needed)`);
      }
      lines.push(`start it with: edgeagg serve --data-dir ${restored.dataDir} (and the --node-id the node had, if it had one)`);
      print(
        options.json,
        { data_dir: restored.dataDir, replaced: restored.replaced, trusted_keys: restored.trustedKeys, ...manifest },
        lines.join('\n'),
      );
    });
}
