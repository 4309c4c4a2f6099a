/**
 * The parts the composition root (./edge-node.ts) is made of, each made from the settings: the identity
 * and the storage of a data directory, the Wasm runtime, an app's write path, the deployment policy, the
 * store's circuit breaker, and what TLS, NATS and tokens need.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RevocationList, TokenVerifier, loadOrCreateNodeKey, type NodeKey } from '../auth/index.js';
import type { DeploymentPolicy } from '../deploy/index.js';
import type { TlsFiles } from '../http/index.js';
import { IngestPipeline } from '../ingest/index.js';
import type { NatsAuthOptions } from '../replication/index.js';
import { StoreBreaker } from '../resilience/index.js';
import { Runtime, parsePublicKey, type GuestModule } from '../runtime/index.js';
import { SqliteStore, WalSyncer, WriteJournal, replayJournal } from '../store/index.js';
import type { Logger, Telemetry } from '../telemetry/index.js';
import { durabilityPlan, type DurabilityPlan } from './durability.js';
import { GroupDurability } from './group-durability.js';
import { NodeStartError, dataDirError, databaseError } from './start-errors.js';
import { lockDataDir } from './data-dir-lock.js';
import { trustedModuleKeys } from './module-bundle.js';
import type { SettingName, Settings } from './settings.js';

/** The data directory and who the node is: its token key and its name in the fleet. */
export interface Identity {
  dataDir: string;
  nodeKey: NodeKey;
  /** True when this start created the data directory's key (the first start). */
  created: boolean;
  nodeId: string;
}

export interface Storage {
  store: SqliteStore;
  walSyncer: WalSyncer | undefined;
  /** How commit groups become durable (journaled, or committed and synced); undefined: durability normal. */
  groups: GroupDurability | undefined;
  durability: DurabilityPlan;
  /** Releases the data directory's lock (after the store is closed). */
  unlock: () => void;
}

export function openIdentity(settings: Settings): Identity {
  const dataDir = resolve(settings['data-dir']);
  let nodeKey: NodeKey;
  let created: boolean;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    ({ key: nodeKey, created } = loadOrCreateNodeKey(dataDir));
    // The first start's tokens are printed once the node serves; until then this marker keeps it the
    // first start, so a start that fails (a port in use) does not lose them.
    if (created) writeFileSync(firstStartMarker(dataDir), '', { mode: 0o600 });
  } catch (error) {
    throw dataDirError(error, dataDir);
  }
  const nodeId = settings['node-id'] || `node-${createHash('sha256').update(nodeKey.publicKeyPem).digest('hex').slice(0, 12)}`;
  return { dataDir, nodeKey, created, nodeId };
}

/** Present from the start that created the node's key until its tokens were shown. */
export function firstStartMarker(dataDir: string): string {
  return join(dataDir, 'keys', 'first-start');
}

export function openStorage(settings: Settings, dataDir: string, logger: Logger): Storage {
  const dbPath = join(dataDir, 'edgeagg.db');
  const durability = durabilityPlan(settings);
  // Before the database: a second node on this directory refuses here, having touched nothing.
  const unlock = lockDataDir(dataDir);
  let store: SqliteStore;
  try {
    store = SqliteStore.open({
      path: dbPath,
      synchronous: durability.sqliteSynchronous,
      maxPageCount: settings['max-db-pages'] || undefined,
      replication: settings.nats.length > 0,
    });
  } catch (error) {
    unlock();
    throw databaseError(error, dbPath);
  }
  const walSyncer = durability.syncWal ? new WalSyncer(`${dbPath}-wal`) : undefined;
  let journal: WriteJournal | undefined;
  try {
    // Journaled with full durability and group commit; any other start still applies what a previous run's
    // journal holds (acknowledged readings), then leaves the journal alone.
    journal = walSyncer && durability.journalCommitMs > 0 ? openJournal(dbPath, logger) : WriteJournal.existing(dbPath);
    // What a crash left in the journal goes into the database before anything reads it.
    const replay = journal ? replayJournal(store, journal) : { groups: 0, events: 0 };
    if (replay.groups > 0) logger.info('applied the writes the database had not committed from the write journal', { groups: replay.groups, events: replay.events });
    if (journal && !(walSyncer && durability.journalCommitMs > 0)) {
      journal.close();
      journal = undefined;
    }
  } catch (error) {
    journal?.close();
    walSyncer?.close();
    store.close();
    unlock();
    throw databaseError(error, dbPath);
  }
  const groups = walSyncer && new GroupDurability({ store, wal: walSyncer, journal, commitIntervalMs: durability.journalCommitMs, dataDir, logger });
  if (journal && !journal.direct) logger.warn('the file system of the data directory refuses direct I/O: each write journal append costs a whole page of flash', { dataDir });
  return { store, walSyncer, groups, durability, unlock };
}

/** The write journal of the database at `dbPath`; undefined when the disk has no room for its files (the node runs without). */
function openJournal(dbPath: string, logger: Logger): WriteJournal | undefined {
  try {
    return WriteJournal.open(dbPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    logger.warn('no room on the disk for the write journal: every commit group is committed to the database and synced (more flash wear)', { error });
    return undefined;
  }
}

export function createRuntime(settings: Settings, store: SqliteStore, telemetry: Telemetry, logger: Logger, counted: (name: string, value: number) => void): Runtime {
  return new Runtime({
    store,
    trustedKeys: trustedModuleKeys(settings),
    fuelPerMs: settings['fuel-per-ms'],
    backstopFactor: settings['backstop-factor'],
    onMetric: (mod, name, value) => {
      counted(name, value);
      telemetry.onMetric(mod, name, value);
    },
    onCall: telemetry.onCall,
    onLog: (mod, level, message) => logger[(['debug', 'info', 'warn', 'error'] as const)[level] ?? 'info'](message, { module: mod.name, version: mod.version }),
  });
}

export function createPipeline(
  settings: Settings,
  storage: Storage,
  module: GuestModule,
  telemetry: Telemetry,
  logger: Logger,
  hooks: Pick<ConstructorParameters<typeof IngestPipeline>[0], 'onCommitted' | 'onFolded' | 'folders' | 'onFolderFailed'>,
): IngestPipeline {
  const { store, groups, durability } = storage;
  return new IngestPipeline({
    store,
    module,
    maxGroupSize: durability.maxGroupSize,
    commitWindowMs: durability.commitWindowMs,
    moreMayCome: durability.clients.moreMayCome,
    sync: groups?.sync,
    holdTransactions: groups?.hold,
    journal: store.foldJournal(module.name),
    foldDelayMs: settings['fold-delay-ms'],
    ...hooks,
    onFoldFailed: (error, events, retry) =>
      logger.error(retry ? 'fold failed; the events wait for the next fold' : 'the aggregator could not fold events; they stay in the fold journal and are folded again at the next start', {
        error,
        events: events.length,
        first: events[0] && { device_id: events[0].source, region: events[0].partition, time_ms: events[0].timeMs },
      }),
    observer: telemetry.pipelineObserver,
  });
}

export function deploymentPolicy(settings: Settings): DeploymentPolicy {
  return {
    windowMs: settings['canary-window-ms'],
    minCalls: settings['canary-min-calls'],
    maxErrorExcess: settings['canary-max-error-excess-pct'] / 100,
    stageIntervalMs: settings['canary-stage-interval-ms'],
    maxModuleBytes: settings['max-module-bytes'],
  };
}

export function createBreaker(settings: Settings, telemetry: Telemetry, logger: Logger): StoreBreaker {
  return new StoreBreaker({
    threshold: settings['breaker-threshold'],
    windowMs: settings['breaker-window-ms'],
    coolDownMs: settings['breaker-cooldown-ms'],
    onStateChange: (state, reason) => {
      telemetry.breakerChanged(state);
      if (state === 'open') logger.warn('circuit breaker opened: the store is failing', { circuit: state, reason });
      else logger.info('circuit breaker state', { circuit: state });
    },
  });
}

/** TLS and credentials for the fleet's NATS servers, from the `nats-*` settings (empty ones unset). */
export function natsAuth(settings: Settings): NatsAuthOptions {
  const set = (name: SettingName): string | undefined => (settings[name] as string) || undefined;
  return {
    user: set('nats-user'),
    password: set('nats-password'),
    token: set('nats-token'),
    credsFile: set('nats-creds'),
    nkeySeedFile: set('nats-nkey'),
    tlsCaFile: set('nats-tls-ca'),
    tlsCertFile: set('nats-tls-cert'),
    tlsKeyFile: set('nats-tls-key'),
  };
}

/** The TLS files the settings name, or undefined for plain HTTP (a key without a certificate is an error). */
export function tlsFiles(settings: Settings): TlsFiles | undefined {
  const cert = settings['tls-cert'];
  const key = settings['tls-key'];
  if (!cert && !key) {
    if (settings['tls-client-ca']) throw new NodeStartError('tls-client-ca needs HTTPS: pass tls-cert and tls-key too');
    return undefined;
  }
  if (!cert || !key) throw new NodeStartError('HTTPS needs both tls-cert and tls-key');
  return { certFile: resolve(cert), keyFile: resolve(key), clientCaFile: settings['tls-client-ca'] ? resolve(settings['tls-client-ca']) : undefined };
}

export function createVerifier(settings: Settings, nodeKey: NodeKey, store: SqliteStore, logger: Logger): TokenVerifier | undefined {
  if (!settings.auth) return undefined;
  return new TokenVerifier([nodeKey.publicKey, ...settings['token-keys'].map((f) => parsePublicKey(readFileSync(f, 'utf8')))], {
    maxLifetimeSeconds: settings['token-max-lifetime-s'],
    revocations: new RevocationList({ load: () => store.tokenRevocations(), onError: (error) => logger.warn('could not read token revocations; using the last ones read', { error }) }),
  });
}
