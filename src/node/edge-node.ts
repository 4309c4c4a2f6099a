/**
 * The composition root: the one place where the store, the Wasm runtime, the aggregator module,
 * the write path and the HTTP server are wired together.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenVerifier, loadOrCreateNodeKey, type NodeKey } from '../auth/tokens.js';
import { createEdgeServer } from '../http/server.js';
import { RegionStream } from '../http/region-stream.js';
import { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { CAPABILITIES, Runtime, StoreUnavailableError, parsePublicKey, type Capability, type GuestModule } from '../runtime/index.js';
import { SqliteStore, WalSyncer } from '../store/index.js';
import { LoadShedder, StoreBreaker } from '../resilience/index.js';
import { Telemetry, createLogger, snapshotFromFleetInfo, type LogFormat, type Logger, type LogLevel } from '../telemetry/index.js';
import { createDashboardRoutes } from '../web/index.js';
// Type only: the replication module (and the NATS client) is loaded only when --nats is set.
import type { Replicator } from '../replication/index.js';
import type { Settings } from './settings.js';

/** The package root: where `build/guests` is. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BUILT_GUESTS = join(PACKAGE_ROOT, 'build', 'guests');
const DEFAULT_MODULE = join(BUILT_GUESTS, 'aggregator.wasm');
/** The public key the build signs guests with (scripts/build-guests.mjs). */
const BUILD_KEY = join(BUILT_GUESTS, 'build-key.pub.pem');
const GRANTS: Capability[] = [...CAPABILITIES];

export interface EdgeNodeOptions {
  settings: Settings;
  logger?: Logger;
}

export class EdgeNode {
  private draining = false;
  /** Replication across the fleet; undefined when the node runs alone (no `--nats`). */
  replication: Replicator | undefined = undefined;
  /** Metrics, traces and the Prometheus endpoint (docs/observability.md). */
  telemetry: Telemetry | undefined = undefined;

  private constructor(
    readonly settings: Settings,
    readonly logger: Logger,
    readonly store: SqliteStore,
    readonly module: GuestModule,
    readonly pipeline: IngestPipeline,
    readonly stream: RegionStream,
    readonly server: Server,
    readonly nodeKey: NodeKey,
    /** True when this start created the data directory's key (the first start). */
    readonly firstStart: boolean,
    private readonly walSyncer: WalSyncer | undefined,
  ) {}

  static async start(options: EdgeNodeOptions): Promise<EdgeNode> {
    const { settings } = options;
    const logger = options.logger ?? createLogger(settings['log-level'] as LogLevel, { format: settings['log-format'] as LogFormat });
    const dataDir = resolve(settings['data-dir']);
    mkdirSync(dataDir, { recursive: true });
    const { key: nodeKey, created } = loadOrCreateNodeKey(dataDir);

    const nodeId = settings['node-id'] || `node-${createHash('sha256').update(nodeKey.publicKeyPem).digest('hex').slice(0, 12)}`;
    const counters = new GuestCounters();
    // Telemetry: its hooks go to the runtime, the write path and the server (none of them imports it).
    const telemetry = new Telemetry({ logger, nodeId, serviceVersion: packageVersion(), metricsToken: settings['metrics-token'] });
    const startedAt = Date.now();
    const dbPath = join(dataDir, 'edgeagg.db');
    const durability = durabilityPlan(settings);
    const store = SqliteStore.open({
      path: dbPath,
      synchronous: durability.sqliteSynchronous,
      maxPageCount: settings['max-db-pages'] || undefined,
      replication: settings.nats.length > 0,
    });
    const walSyncer = durability.syncWal ? new WalSyncer(`${dbPath}-wal`) : undefined;
    try {
      const runtime = new Runtime({
        store,
        trustedKeys: trustedModuleKeys(settings),
        onMetric: (mod, name, value) => {
          counters.add(name, value);
          telemetry.onMetric(mod, name, value);
        },
        onCall: telemetry.onCall,
        onLog: (mod, level, message) => logger[(['debug', 'info', 'warn', 'error'] as const)[level] ?? 'info'](message, { module: mod.name, version: mod.version }),
      });
      const modulePath = settings.module ? resolve(settings.module) : DEFAULT_MODULE;
      const module = await runtime.load(readBundle(modulePath), {
        grants: GRANTS,
        config: {
          grace_period_ms: String(settings['grace-period-ms']),
          max_future_ms: String(settings['max-future-ms']),
        },
      });

      // The stream reads the aggregates as the API does: after folding what waits.
      const read = (path: string) =>
        pipeline.read(() => module.invokeHttp({ method: 'GET', path, query: '', contentType: '', principal: { kind: 'read', subject: 'stream' }, body: new Uint8Array(0) }));
      const render = (region: string): string | undefined => {
        const res = read(`/v1/regions/${region}`);
        return res.status === 200 ? Buffer.from(res.body).toString('utf8') : undefined;
      };
      const regions = (): string[] => {
        const res = read('/v1/regions');
        if (res.status !== 200) return [];
        return (JSON.parse(Buffer.from(res.body).toString('utf8')) as { regions: Array<{ region: string }> }).regions.map((r) => r.region);
      };
      // The server is made before the node object it reports on.
      const started: { node?: EdgeNode } = {};
      const stream = new RegionStream({ render, regions });
      const replication: { current?: Replicator } = {};
      const durableWal = walSyncer
        ? () =>
            walSyncer.sync().catch((error: unknown) => {
              throw new StoreUnavailableError(`fsync of the WAL failed: ${String(error)}`, 'io_error', { cause: error });
            })
        : undefined;
      const pipeline = new IngestPipeline({
        store,
        module,
        maxGroupSize: durability.maxGroupSize,
        sync: durableWal,
        journal: {
          append: (events) => store.journalAppend(module.name, events),
          load: () => store.journalEvents(module.name),
          clear: () => store.journalClear(module.name),
        },
        foldDelayMs: settings['fold-delay-ms'],
        // With the requests the events came from: a traced one gets a publish span (in its trace).
        onCommitted: (events, traces) => replication.current?.notify(events, traces),
        onFolded: (partitions) => stream.changed(partitions),
        onFoldFailed: (error, events, retry) =>
          logger.error(retry ? 'fold failed; the events wait for the next fold' : 'the aggregator could not fold events; they stay in the fold journal and are folded again at the next start', {
            error,
            events: events.length,
            first: events[0] && { device_id: events[0].source, region: events[0].partition, time_ms: events[0].timeMs },
          }),
        observer: telemetry.pipelineObserver,
      });
      if (settings.nats.length > 0) {
        const { Replicator } = await import('../replication/index.js');
        replication.current = new Replicator({
          nodeId,
          servers: settings.nats,
          store,
          sink: pipeline,
          stream: module.name,
          regions: settings.regions,
          gracePeriodMs: settings['grace-period-ms'],
          maxFutureMs: settings['max-future-ms'],
          antiEntropyIntervalMs: settings['anti-entropy-interval-ms'],
          url: () => started.node?.url,
          logger,
          durable: durableWal,
          tracer: telemetry.replicationTracer,
        });
      }
      const tokenKeys = [nodeKey.publicKey, ...settings['token-keys'].map((f) => parsePublicKey(readFileSync(f, 'utf8')))];
      const verifier = settings.auth ? new TokenVerifier(tokenKeys) : undefined;

      const breaker = new StoreBreaker({
        threshold: settings['breaker-threshold'],
        windowMs: settings['breaker-window-ms'],
        coolDownMs: settings['breaker-cooldown-ms'],
        onStateChange: (state, reason) => {
          telemetry.breakerChanged(state);
          if (state === 'open') logger.warn('circuit breaker opened: the store is failing', { circuit: state, reason });
          else logger.info('circuit breaker state', { circuit: state });
        },
      });
      const shedder = new LoadShedder(settings['max-in-flight']);
      telemetry.observeBreaker(breaker);
      telemetry.observeShedder(shedder);
      telemetry.observeFold(pipeline);
      telemetry.observeReplication(() => {
        const info = replication.current?.fleetInfo();
        return info && snapshotFromFleetInfo(info);
      });
      const ready = (): boolean => started.node !== undefined && !started.node.draining && breaker.state !== 'open';
      const server = createEdgeServer({
        module: () => module,
        pipeline: () => pipeline,
        stream,
        verifier,
        bodyLimit: settings['body-limit'],
        breaker,
        shedder,
        headersTimeoutMs: settings['headers-timeout-ms'],
        requestTimeoutMs: settings['request-timeout-ms'],
        idleTimeoutMs: settings['idle-timeout-ms'],
        nodeInfo: () => ({
          node_id: nodeId,
          ready: ready(),
          circuit: breaker.state,
          module: { name: module.name, version: module.version },
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
          counters: counters.snapshot(),
        }),
        fleetInfo: () =>
          replication.current?.fleetInfo() ?? {
            node_id: nodeId,
            replication: 'off',
            nodes: [{ node_id: nodeId, self: true, url: started.node?.url ?? null, last_contact: new Date().toISOString(), last_contact_age_ms: 0, outbox_depth: 0, replication_lag_ms: null, pending: 0, catching_up: false, regions: 'all' }],
          },
        readiness: () => ({
          ready: ready(),
          module: `${module.name}@${module.version}`,
          circuit: breaker.state,
          draining: started.node?.draining ?? false,
        }),
        onError: (error, context, res) => logger.error(context, { error, ...telemetry.logFields(res) }),
        observer: telemetry.requestObserver,
        metrics: telemetry.enabled && !settings['metrics-listen'] ? telemetry.handleMetrics : undefined,
        extraRoutes: createDashboardRoutes(),
      });
      if (settings['metrics-listen'] && telemetry.enabled) logger.info('metrics listening', { url: await telemetry.listenMetrics(settings['metrics-listen']) });
      await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(settings.port, settings.host, () => resolveListen());
      });
      const node = new EdgeNode(settings, logger, store, module, pipeline, stream, server, nodeKey, created, walSyncer);
      started.node = node;
      node.telemetry = telemetry;
      node.replication = replication.current;
      node.replication?.start();
      logger.info('node started', { url: node.url, module: `${module.name}@${module.version}`, dataDir, auth: settings.auth });
      return node;
    } catch (error) {
      void telemetry.shutdown();
      walSyncer?.close();
      store.close();
      throw error;
    }
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Stops accepting, finishes and acknowledges what is in flight, then closes the store. */
  async stop(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    this.stream.close();
    await this.replication?.stop();
    await this.pipeline.drain();
    // Connections still open after in-flight requests are answered are closed.
    const timer = setTimeout(() => this.server.closeAllConnections(), 2_000);
    await closed;
    clearTimeout(timer);
    this.walSyncer?.close();
    this.store.close();
    await this.telemetry?.shutdown();
    this.logger.info('node stopped');
  }
}

/**
 * How a durability setting is kept (README, "Durability"):
 * - full with group commit: SQLite appends without syncing, and the WAL is fdatasynced off the event
 *   loop before a group is acknowledged (the guarantee of synchronous=FULL, pipelined);
 * - full without group commit: SQLite's own synchronous=FULL, one transaction and fsync per request;
 * - normal: no fsync at all; the OS writes later (a crash of the process loses nothing, a power cut may).
 */
function durabilityPlan(settings: Settings): { sqliteSynchronous: 'full' | 'normal'; syncWal: boolean; maxGroupSize: number | undefined } {
  const group = settings['group-commit'];
  if (settings.durability === 'normal') return { sqliteSynchronous: 'normal', syncWal: false, maxGroupSize: group ? undefined : 1 };
  return group ? { sqliteSynchronous: 'normal', syncWal: true, maxGroupSize: undefined } : { sqliteSynchronous: 'full', syncWal: false, maxGroupSize: 1 };
}

/** `service.version` in telemetry: the package's version. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function readBundle(modulePath: string): { wasm: Uint8Array; signatureFile: unknown } {
  if (!existsSync(modulePath)) {
    throw new Error(`no module at ${modulePath}: run \`npm run build\` to build the aggregator, or pass --module`);
  }
  const sigPath = `${modulePath}.sig.json`;
  return {
    wasm: readFileSync(modulePath),
    signatureFile: existsSync(sigPath) ? JSON.parse(readFileSync(sigPath, 'utf8')) : undefined,
  };
}

function trustedModuleKeys(settings: Settings): string[] {
  const keys = settings['trusted-keys'].map((f) => readFileSync(f, 'utf8'));
  if (existsSync(BUILD_KEY)) keys.push(readFileSync(BUILD_KEY, 'utf8'));
  const dir = join(resolve(settings['data-dir']), 'trusted-keys');
  if (existsSync(dir)) for (const f of readdirSync(dir).filter((n) => n.endsWith('.pem'))) keys.push(readFileSync(join(dir, f), 'utf8'));
  return keys;
}

/** Totals of the aggregator's counters (metric_add), shaped for `GET /v1/node`. */
class GuestCounters {
  private readonly totals = new Map<string, number>();

  add(name: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  snapshot(): { accepted: number; duplicates: number; rejected: Record<string, number> } {
    const rejected: Record<string, number> = {};
    for (const [name, value] of this.totals) {
      if (name.startsWith('readings_rejected_')) rejected[name.slice('readings_rejected_'.length)] = value;
    }
    return { accepted: this.totals.get('readings_accepted') ?? 0, duplicates: this.totals.get('readings_duplicate') ?? 0, rejected };
  }
}
