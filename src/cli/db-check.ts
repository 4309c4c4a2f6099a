/**
 * `edgeagg db check`: SQLite's integrity check, and the invariant that the module's aggregates equal the
 * fold of the events the log still holds. Pruning leaves the log a suffix in time (every event from the
 * oldest one kept on), so a time bucket that starts after the oldest kept event holds only retained events:
 * those buckets (the key families the manifest's `retention` declares) are refolded from the log into a
 * MemoryStore and compared byte for byte. Older buckets and all-time totals also count pruned events, so
 * they cannot be checked this way; neither can buckets after an event still waiting in the fold journal.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SETTINGS, readModuleBundle, resolveSettings, trustedModuleKeys } from '../node/index.js';
import { CAPABILITIES, MemoryStore, Runtime, type GuestModule, type GuestStore, type RetentionRule, type StoredEvent } from '../runtime/index.js';
import { SqliteStore } from '../store/index.js';
import { RUNNING_NODE_WAIT_MS, print } from './args.js';

export interface CheckDatabaseOptions {
  store: SqliteStore;
  /** The module whose namespace is checked (its manifest declares the bucket families). */
  module: GuestModule;
  /** Loads the same module on another store: the fold is redone there. */
  load: (store: GuestStore) => Promise<GuestModule>;
  /** Events folded per guest call. @default 1000 */
  chunk?: number;
}

export interface DatabaseCheck {
  integrity: string;
  /** Time of the oldest event kept (null when the log is empty). */
  oldestEventMs: number | null;
  /** Bucket records compared. */
  comparedRecords: number;
  /** Events committed but not folded yet (folded at the next start); buckets from the first are not compared. */
  unfoldedEvents: number;
  /** Each violation, one a line: empty when the database is sound. */
  problems: string[];
}

const MAX_PROBLEMS = 20;

export async function checkDatabase(options: CheckDatabaseOptions): Promise<DatabaseCheck> {
  const { store, module } = options;
  const integrity = store.integrityCheck();
  const problems = integrity === 'ok' ? [] : [`integrity_check: ${integrity}`];
  const stream = module.name;
  const oldest = store.readEvents(stream, { limit: 1 }).events[0]?.timeMs;
  const unfolded = store.foldJournal(stream).load();
  const foldedBefore = Math.min(Infinity, ...unfolded.map((e) => e.timeMs));
  const result: DatabaseCheck = { integrity, oldestEventMs: oldest ?? null, comparedRecords: 0, unfoldedEvents: unfolded.length, problems };
  const rules = module.manifest.retention ?? [];
  if (oldest === undefined || rules.length === 0) return result;

  const memory = new MemoryStore();
  const refold = await options.load(memory);
  let batch: StoredEvent[] = [];
  for (const event of store.iterateEvents(stream)) {
    batch.push(event);
    if (batch.length >= (options.chunk ?? 1000)) {
      refold.invokeEvents(batch);
      batch = [];
    }
  }
  if (batch.length > 0) refold.invokeEvents(batch);

  // A bucket starting at the oldest kept millisecond may have lost some of it to a pruning batch: strictly after.
  const inWindow = (rule: RetentionRule, key: Uint8Array): boolean => {
    if (key.length < rule.prefix.length + 4) return false;
    const bucket = Buffer.from(key).readUInt32BE(rule.prefix.length);
    return bucket * rule.unit_ms > oldest && (bucket + 1) * rule.unit_ms <= foldedBefore;
  };
  for (const rule of rules) {
    const prefix = Buffer.from(rule.prefix, 'latin1');
    const stored = keysOf(store, module.namespace, prefix).filter((k) => inWindow(rule, k));
    const expected = keysOf(memory, refold.namespace, prefix).filter((k) => inWindow(rule, k));
    const all = new Map<string, Uint8Array>();
    for (const k of [...stored, ...expected]) all.set(Buffer.from(k).toString('hex'), k);
    for (const [hex, key] of all) {
      result.comparedRecords++;
      const got = store.kvGet(module.namespace, key);
      const want = memory.kvGet(refold.namespace, key);
      if (got !== undefined && want !== undefined && Buffer.from(got).equals(Buffer.from(want))) continue;
      if (problems.length < MAX_PROBLEMS) {
        const what = got === undefined ? 'missing' : want === undefined ? 'present without any event' : 'differs from the fold of its events';
        problems.push(`record ${describeKey(rule, key)} (${hex}) ${what}`);
      }
    }
  }
  return result;
}

function keysOf(store: GuestStore, namespace: string, prefix: Uint8Array): Uint8Array[] {
  const keys: Uint8Array[] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.kvList(namespace, prefix, after, 1000);
    keys.push(...page);
    if (page.length < 1000) return keys;
    after = page[page.length - 1];
  }
}

function describeKey(rule: RetentionRule, key: Uint8Array): string {
  const bytes = Buffer.from(key);
  const start = bytes.readUInt32BE(rule.prefix.length) * rule.unit_ms;
  return `${rule.prefix} ${new Date(start).toISOString()} ${bytes.subarray(rule.prefix.length + 4).toString('latin1')}`;
}

interface DbCheckFlags {
  dataDir?: string;
  module?: string;
  json?: boolean;
}

export function registerDbCheck(program: Command): void {
  const db = program.commands.find((c) => c.name() === 'db') ?? program.command('db').description('inspect the database of a data directory');
  db.command('check')
    .description('check the database: SQLite integrity, and aggregates equal to the fold of the retained events')
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .option('--module <file>', 'the module the node runs (env EDGEAGG_MODULE; default: the aggregator built with the package)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
What is compared: the time buckets the module's manifest declares ("retention"), in its namespace, that start
after the oldest event the log still holds (pruning keeps every event from that one on), refolded from those
events. Older buckets and all-time totals also counted pruned events and are not compared. The exit code is 1
when the integrity check or a comparison fails. Run it on a stopped node, or accept that the newest buckets may
still be folding.`,
    )
    .action(async (flags: DbCheckFlags) => {
      const settings = resolveSettings({ 'data-dir': flags.dataDir, module: flags.module }, process.env);
      const dbPath = join(settings['data-dir'] || SETTINGS['data-dir'].default, 'edgeagg.db');
      if (!existsSync(dbPath)) throw new Error(`no node database in ${settings['data-dir']}: point --data-dir at the data directory of the node`);
      // `replication: true` leaves the digests as they are: this process appends nothing.
      const store = SqliteStore.open({ path: dbPath, replication: true, busyTimeoutMs: RUNNING_NODE_WAIT_MS });
      try {
        const config = { grace_period_ms: String(settings['grace-period-ms']), max_future_ms: String(settings['max-future-ms']), max_regions: String(settings['max-regions']) };
        const load = (on: GuestStore) =>
          new Runtime({ store: on, trustedKeys: trustedModuleKeys(settings) }).load(readModuleBundle(settings), { grants: [...CAPABILITIES], config });
        const result = await checkDatabase({ store, module: await load(store), load });
        const ok = result.problems.length === 0;
        print(
          flags.json,
          { ok, ...result, oldest_event: result.oldestEventMs === null ? null : new Date(result.oldestEventMs).toISOString() },
          ok
            ? `ok: integrity ok, ${result.comparedRecords} bucket records equal the fold of the retained events${result.unfoldedEvents > 0 ? ` (${result.unfoldedEvents} events wait in the fold journal)` : ''}`
            : `problems found:\n${result.problems.map((p) => `  ${p}`).join('\n')}`,
        );
        if (!ok) process.exitCode = 1;
      } finally {
        store.close();
      }
    });
}
