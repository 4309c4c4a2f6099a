/**
 * The composition root: the one place where the store, the Wasm runtime, the write path, the apps,
 * replication, telemetry and the HTTP server are wired together. `start` reads as the list of its steps.
 */
import { existsSync, rmSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import { AggregatorApp, aggregatorCounterMapper, hostedAppRoutes } from '../apps/index.js';
import { DeploymentManager, ModuleRegistry, deploymentGauges, deploymentRoutes, deploymentSummary, versionsSeen, type AppHost } from '../deploy/index.js';
import { applyRollout } from './fleet-rollouts.js';
import type { NodeKey } from '../auth/index.js';
import { createEdgeServer, listen, metricsRoute, nodeRoutes, serverUrl, watchTls, type MetricsRouteOptions, type Route, type TlsFiles } from '../http/index.js';
import type { SecureContextOptions } from 'node:tls';
import type { IngestPipeline } from '../ingest/index.js';
import { LoadShedder, type StoreBreaker } from '../resilience/index.js';
import type { Capability, GuestModule } from '../runtime/index.js';
import type { SqliteStore } from '../store/index.js';
import { Telemetry, createLogger, parseListenAddress, type LogFormat, type Logger, type LogLevel } from '../telemetry/index.js';
import { dashboardRoutes } from '../web/index.js';
// The NATS client is loaded only when --nats is set (createReplicator).
import { createReplicator, standaloneFleet, type Replicator, type RolloutRecord } from '../replication/index.js';
import { listenError } from './start-errors.js';
import { packageVersion, readModuleBundle, trustedModuleKeys } from './module-bundle.js';
import type { Settings } from './settings.js';
import {
  createBreaker,
  createPipeline,
  createRuntime,
  createVerifier,
  deploymentPolicy,
  firstStartMarker,
  natsAuth,
  openIdentity,
  openStorage,
  tlsFiles,
  type Identity,
  type Storage,
} from './node-parts.js';
import { startRetention } from './maintenance-start.js';
import type { RetentionScheduler } from './maintenance.js';

/** The fleet rollout revision this node has applied (store counter). */
const ROLLOUT_REVISION = 'fleet-rollout-revision';

export interface EdgeNodeOptions {
  settings: Settings;
  /** @default a logger made from the `log-level` and `log-format` settings */
  logger?: Logger;
}

export class EdgeNode {
  private draining = false;
  private readonly startedAt = Date.now();
  /** Replication across the fleet; undefined when the node runs alone (no `--nats`). */
  replication: Replicator | undefined = undefined;
  /** Pruning and the database budget (src/node/maintenance.ts); set once the node started its gauges. */
  retention: RetentionScheduler | undefined = undefined;
  /** The separate `/metrics` server of `--metrics-listen`, if any. */
  private metricsServer: Server | undefined = undefined;
  /** Stops watching the TLS files, if any. */
  private unwatchCertificates: (() => void) | undefined = undefined;

  private constructor(
    readonly settings: Settings,
    readonly logger: Logger,
    private readonly identity: Identity,
    /** Metrics, traces and the Prometheus endpoint (docs/observability.md). */
    readonly telemetry: Telemetry,
    private readonly storage: Storage,
    /** Apps, versions, canaries and rollbacks (src/deploy). */
    readonly deployments: DeploymentManager<IngestPipeline>,
    /** The app `--module` names (the aggregator): its versions and its write path. */
    private readonly primary: AppHost<IngestPipeline>,
    readonly app: AggregatorApp,
    readonly breaker: StoreBreaker,
  ) {}

  /** The primary app's stable version. */
  get module(): GuestModule {
    return this.primary.versions.stable();
  }

  /** The primary app's write path. */
  get pipeline(): IngestPipeline {
    return this.primary.pipeline;
  }

  /** Set once the routes are made (they report on the node). */
  server!: Server;
  /** The routes of the apps deployed beside the primary one, under `/apps/<name>/`. */
  private hostedApps: Route[] = [];

  static async start(options: EdgeNodeOptions): Promise<EdgeNode> {
    const { settings } = options;
    const logger = options.logger ?? createLogger(settings['log-level'] as LogLevel, { format: settings['log-format'] as LogFormat });
    const identity = openIdentity(settings);
    // Telemetry: its hooks go to the runtime, the write path and the server (none of them imports it).
    const telemetry = new Telemetry({
      logger,
      nodeId: identity.nodeId,
      serviceVersion: packageVersion(),
      metricsToken: settings['metrics-token'],
      guestCounters: [aggregatorCounterMapper],
    });
    const storage = openStorage(settings, identity.dataDir, logger);
    try {
      // The app, the pipeline and the module refer to each other through these late-bound references.
      const late: { app?: AggregatorApp; node?: EdgeNode } = {};
      const runtime = createRuntime(settings, storage.store, telemetry, logger, (name, value) => late.app?.counted(name, value));
      const bundle = readModuleBundle(settings);
      const primaryName = (bundle.signatureFile as { manifest?: { name?: string } } | undefined)?.manifest?.name;
      const primaryConfig = {
        grace_period_ms: String(settings['grace-period-ms']),
        max_future_ms: String(settings['max-future-ms']),
        max_regions: String(settings['max-regions']),
        listed_for_ms: String(listedForMs(settings)),
      };
      const deployments = new DeploymentManager<IngestPipeline>({
        store: storage.store,
        registry: new ModuleRegistry(identity.dataDir, storage.store.deployments),
        runtime,
        policy: deploymentPolicy(settings),
        fixedConfig: (name) => (name === primaryName ? primaryConfig : undefined),
        refreshTrust: () => trustedModuleKeys(settings).forEach((pem) => runtime.trustedKeys.add(pem)),
        createPipeline: (name, versions, onFolderFailed) =>
          createPipeline(settings, storage, versions.stable(), telemetry, logger, {
            folders: () => versions.folders(),
            onFolderFailed,
            // The primary app's events replicate; with the requests they came from (a traced one gets a publish span).
            ...(name === primaryName
              ? {
                  onCommitted: (events, traces) => {
                    late.node?.replication?.notify(events, traces);
                    late.app?.committed(events);
                  },
                  onFolded: (regions) => late.app?.folded(regions),
                }
              : {}),
          }),
        logger,
      });
      const primary = await deployments.open({ bundle, grants: settings['module-grants'] as Capability[], config: primaryConfig });
      const breaker = createBreaker(settings, telemetry, logger);
      const shedder = new LoadShedder(settings['max-in-flight']);
      const routeOptions = {
        breaker,
        shedder,
        bodyLimit: settings['body-limit'],
        maxStreams: settings['max-streams'],
        maxBodyBytesInFlight: settings['max-body-bytes-in-flight'],
        minBodyRate: settings['min-body-rate'],
        minBodyRateGraceMs: settings['min-body-grace-ms'],
        rateLimitPerToken: { ratePerSecond: settings['rate-limit-per-token'], burst: settings['rate-limit-per-token-burst'] },
        rateLimitPerDevice: { ratePerSecond: settings['rate-limit-per-device'], burst: settings['rate-limit-per-device-burst'] },
        onClientGone: (reason: string, res: ServerResponse) => logger.warn('client gone mid-request', { reason, ...telemetry.logFields(res) }),
        observer: telemetry.requestObserver,
        onError: (error: unknown, context: string, res?: ServerResponse) => logger.error(context, { error, ...telemetry.logFields(res) }),
      };
      const app = new AggregatorApp({
        ...routeOptions,
        versions: primary.versions,
        pipeline: () => primary.pipeline,
        maxDevicesTracked: settings['max-devices-tracked'],
        readLog: (after, limit) => storage.store.readEvents(primary.app, { after, limit }),
      });
      late.app = app;
      const node = new EdgeNode(settings, logger, identity, telemetry, storage, deployments, primary, app, breaker);
      node.hostedApps = hostedAppRoutes({ ...routeOptions, lookup: (name) => (name === primary.app ? undefined : deployments.host(name)) });
      late.node = node;
      if (storage.groups) storage.groups.onReapplied = () => deployments.apps.forEach((name) => deployments.host(name)?.pipeline.reloadUnfolded());
      node.replication = await node.createReplication();
      telemetry.observeBreaker(breaker);
      telemetry.observeShedder(shedder);
      telemetry.observeFold(primary.pipeline);
      telemetry.observeDeployments(() => deploymentGauges(deployments));
      telemetry.observeWrites(() => app.readingCounts().accepted);
      telemetry.observeDatabase(storage.store);
      telemetry.observeWriteJournal(() => storage.groups?.status() ?? { state: 'off', held: 0 });
      telemetry.observeDisk(identity.dataDir);
      node.retention = startRetention({ settings, store: storage.store, modules: () => deployments.apps.flatMap((name) => deployments.host(name)?.versions.folders() ?? []), telemetry, logger });
      telemetry.observeReplication(() => node.replication?.stats());
      const tls = tlsFiles(settings);
      node.server = createEdgeServer({
        routes: node.routes(),
        tls,
        verifier: createVerifier(settings, identity.nodeKey, storage.store, logger),
        bodyLimit: settings['body-limit'],
        headersTimeoutMs: settings['headers-timeout-ms'],
        requestTimeoutMs: settings['request-timeout-ms'],
        idleTimeoutMs: settings['idle-timeout-ms'],
        onError: (error, context, res) => logger.error(context, { error, ...telemetry.logFields(res) }),
        observer: telemetry.requestObserver,
      });
      storage.durability.clients.watch(node.server);
      if (tls) node.watchCertificates(tls);
      await node.listenMetrics();
      await listen(node.server, settings.port, settings.host).catch((error: unknown) => {
        throw listenError(error, settings.host, settings.port);
      });
      node.replication?.start();
      deployments.resume();
      app.start();
      logger.info('node started', { url: node.url, module: `${node.module.name}@${node.module.version}`, dataDir: identity.dataDir, auth: settings.auth });
      return node;
    } catch (error) {
      void telemetry.shutdown();
      await storage.groups?.close().catch(() => undefined);
      storage.walSyncer?.close();
      storage.store.close();
      storage.unlock();
      throw error;
    }
  }

  get url(): string {
    return serverUrl(this.server);
  }

  get nodeKey(): NodeKey {
    return this.identity.nodeKey;
  }

  /**
   * True at the first start of a data directory: it created the node's key, and no start has shown its
   * first tokens yet ({@link firstStartShown}).
   */
  get firstStart(): boolean {
    return existsSync(firstStartMarker(this.identity.dataDir));
  }

  /** The first start's tokens were shown: later starts are not first starts. */
  firstStartShown(): void {
    rmSync(firstStartMarker(this.identity.dataDir), { force: true });
  }

  get store(): SqliteStore {
    return this.storage.store;
  }

  /** Ready: started, not draining, and the store's circuit is not open. */
  get ready(): boolean {
    return !this.draining && this.server?.listening === true && this.breaker.state !== 'open' && this.retention?.budget().state !== 'full';
  }

  /** Stops accepting, finishes and acknowledges what is in flight, then closes the store. */
  async stop(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    this.app.close();
    await this.replication?.stop();
    await this.deployments.close();
    await Promise.all(this.deployments.apps.map((name) => this.deployments.host(name)?.pipeline.drain()));
    // Connections still open after in-flight requests are answered are closed.
    const timer = setTimeout(() => this.server.closeAllConnections(), 2_000);
    await closed;
    clearTimeout(timer);
    this.unwatchCertificates?.();
    this.metricsServer?.closeAllConnections();
    this.metricsServer?.close();
    await this.retention?.stop();
    // The held groups go into the database and its WAL is synced; the journal then holds nothing to apply.
    await this.storage.groups?.close().catch((error: unknown) => this.logger.error('the last commit of journaled writes failed; the next start applies them from the write journal', { error }));
    this.storage.walSyncer?.close();
    this.storage.store.close();
    this.storage.unlock();
    await this.telemetry.shutdown();
    this.logger.info('node stopped');
  }

  /** The app's routes, the node's own, and the dashboard. */
  private routes(): Route[] {
    const { settings, telemetry } = this;
    const metricsHere = telemetry.enabled && !settings['metrics-listen'];
    return [
      ...this.app.routes,
      ...this.hostedApps,
      ...deploymentRoutes(this.deployments, {
        maxModuleBytes: settings['max-module-bytes'],
        publish: settings.nats.length > 0 ? (rollout, wasm, allowDowngrade) => this.publishRollout(rollout, wasm, allowDowngrade) : undefined,
      }),
      ...nodeRoutes({
        nodeInfo: () => this.info(),
        fleetInfo: () => this.fleetInfo(),
        readiness: () => ({ ready: this.ready, module: `${this.module.name}@${this.module.version}`, circuit: this.breaker.state, draining: this.draining, disk_budget: diskBudget(this.retention) }),
        metrics: metricsHere ? this.metricsEndpoint() : undefined,
      }),
      ...dashboardRoutes(),
    ];
  }

  /** `GET /v1/node`: the dashboard's health panel. */
  private info(): unknown {
    return {
      node_id: this.identity.nodeId,
      ready: this.ready,
      circuit: this.breaker.state,
      module: { name: this.module.name, version: this.module.version },
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      counters: this.app.readingCounts(),
      deployments: deploymentSummary(this.deployments),
    };
  }

  /** `GET /v1/fleet`: replication's view, or this node alone. */
  private fleetInfo(): unknown {
    return this.replication?.fleetInfo() ?? standaloneFleet(this.identity.nodeId, this.server?.listening ? this.url : undefined, versionsSeen(this.deployments));
  }

  private async createReplication(): Promise<Replicator | undefined> {
    const { settings } = this;
    if (settings.nats.length === 0) return undefined;
    return createReplicator({
      nodeId: this.identity.nodeId,
      servers: settings.nats,
      auth: natsAuth(settings),
      store: this.storage.store,
      sink: this.pipeline,
      stream: this.module.name,
      regions: settings.regions,
      gracePeriodMs: settings['grace-period-ms'],
      maxFutureMs: settings['max-future-ms'],
      antiEntropyIntervalMs: settings['anti-entropy-interval-ms'],
      url: () => (this.server?.listening ? this.url : undefined),
      logger: this.logger,
      durable: this.storage.groups?.durable,
      tracer: this.telemetry.replicationTracer,
      versions: () => versionsSeen(this.deployments),
      rollouts: {
        revision: this.storage.store.counter(ROLLOUT_REVISION) ?? 0,
        onApplied: (revision) => this.storage.store.setCounter(ROLLOUT_REVISION, revision),
        apply: (record, fetchModule) => applyRollout(this.deployments, record, fetchModule, this.logger),
      },
    });
  }

  /** `"fleet": true` on a deploy: publishes the checked module; this node's own watcher deploys it too. */
  private async publishRollout(rollout: RolloutRecord, wasm: Uint8Array, allowDowngrade: boolean): Promise<{ revision: number }> {
    if (!this.replication) throw new Error('replication is not running');
    const published = await this.replication.publishRollout(rollout, wasm, { allowDowngrade });
    this.logger.info('published a rollout to the fleet', { app: rollout.app, version: rollout.version, revision: published.revision, by: rollout.published_by });
    return { revision: published.revision };
  }

  /** A renewed certificate (or key, or client CA) is used for new connections; open ones keep theirs. */
  private watchCertificates(files: TlsFiles): void {
    this.unwatchCertificates = watchTls(
      files,
      (options) => {
        (this.server as Server & { setSecureContext(o: SecureContextOptions): void }).setSecureContext(options);
        this.logger.info('TLS certificate reloaded', { cert: files.certFile });
      },
      (error) => this.logger.error('cannot reload the TLS certificate; the previous one stays in use', { error, cert: files.certFile }),
    );
  }

  /** What `/metrics` serves: telemetry renders the text and checks the scrape's token. */
  private metricsEndpoint(): MetricsRouteOptions {
    return { render: () => this.telemetry.renderMetrics(), accepts: (token) => this.telemetry.metricsTokenAccepted(token) };
  }

  /** `--metrics-listen host:port`: `/metrics` on its own address, answered by the same route. */
  private async listenMetrics(): Promise<void> {
    const { settings, telemetry } = this;
    if (!settings['metrics-listen'] || !telemetry.enabled) return;
    const { host, port } = parseListenAddress(settings['metrics-listen']);
    const server = createEdgeServer({
      routes: [metricsRoute(this.metricsEndpoint())],
      verifier: undefined,
      onError: (error, context) => this.logger.error(context, { error }),
    });
    await listen(server, port, host).catch((error: unknown) => {
      throw listenError(error, host, port);
    });
    this.metricsServer = server;
    this.logger.info('metrics listening', { url: `${serverUrl(server)}/metrics` });
  }
}

/** The disk budget as `/readyz` shows it (docs/operations.md, "Retention and the disk budget"). */
function diskBudget(retention: RetentionScheduler | undefined): { state: string; max_bytes: number; used_bytes: number } | undefined {
  const b = retention?.budget();
  return b && { state: b.state, max_bytes: b.maxBytes, used_bytes: b.usedBytes };
}

/**
 * How long a region stays in `GET /v1/regions` after its last reading: as long as retention keeps any of its
 * buckets (0: forever, when either bucket size is kept forever).
 */
function listedForMs(settings: Settings): number {
  const minute = settings['retention-minute-ms'];
  const hour = settings['retention-hour-ms'];
  return minute === 0 || hour === 0 ? 0 : Math.max(minute, hour);
}
