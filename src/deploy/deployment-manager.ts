/**
 * Deployments on one node: apps, their versions, canaries and rollbacks (DESIGN.md promise 5).
 *
 * A deploy is checked whole before anything is written (signature, hash, ABI, limits, grants, release
 * counter, size); then the module's files go to the registry and, in one transaction, its row, the app's
 * new record and a history line. The version then builds its state in the background (src/deploy/
 * state-builder.ts) and, once caught up, either replaces the stable version or takes its canary share.
 * A canary is judged against the stable version on this node alone; a breach rolls it back.
 */
import { ModuleLoadError, type Capability, type GuestModule, type ModuleBundle, type SignatureFile } from '../runtime/index.js';
import type { SqliteStore } from '../store/index.js';
import { LiveVersions } from './app-versions.js';
import { DeployError } from './deploy-errors.js';
import { checkRequest, checkVersion } from './deploy-checks.js';
import { retireUnusedVersions } from './retire.js';
import { describeDeploy, newRecord, percent, type DeploymentRecord, type VersionRef } from './deployment-record.js';
import { judge } from './health-window.js';
import type { ModuleRegistry } from './registry.js';
import { StateBuilder, type BuildProgress, type FoldSource } from './state-builder.js';
import type { AppHost, AppPipeline, DeployRequest, DeploymentManagerOptions } from './deployment-options.js';

export class DeploymentManager<P extends AppPipeline = AppPipeline> {
  private readonly hosts = new Map<string, AppHost<P>>();
  private readonly records = new Map<string, DeploymentRecord>();
  private readonly builds = new Map<string, { builder?: StateBuilder; abort: AbortController; done: Promise<void> }>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Per app: rollbacks, promotions and downgrades since start (metrics). */
  private readonly countsByApp = new Map<string, { rollbacks: number; promotions: number; downgrades: number }>();

  constructor(private readonly options: DeploymentManagerOptions<P>) {
    this.now = options.now ?? Date.now;
  }

  host(app: string): AppHost<P> | undefined {
    return this.hosts.get(app);
  }

  record(app: string): DeploymentRecord | undefined {
    return this.records.get(app);
  }

  get apps(): string[] {
    return [...this.records.keys()].sort();
  }

  registryVersions(): ReturnType<ModuleRegistry['versions']> {
    return this.options.registry.versions();
  }

  /** The app's latest history lines, newest first. */
  history(app: string, limit = 50): ReturnType<SqliteStore['deployments']['history']> {
    return this.options.store.deployments.history(app, limit);
  }

  /** Rollbacks, promotions and downgrades of the app since start (metrics). */
  counts(app: string): { rollbacks: number; promotions: number; downgrades: number } {
    return { ...(this.countsByApp.get(app) ?? { rollbacks: 0, promotions: 0, downgrades: 0 }) };
  }

  /** The progress of an app's build, if one runs. */
  buildProgress(app: string): BuildProgress | undefined {
    const build = this.builds.get(app);
    return build && (build.builder?.progress ?? { mode: this.records.get(app)?.building?.mode ?? 'rebuild', phase: 'clearing', done: 0, total: 0, caughtUp: 0 });
  }

  /**
   * Loads every app's record and its live versions; the primary app (the one `--module` names) gets
   * `primary` as its first version when it has no record yet, or as a new deploy when it is a version the
   * registry does not hold. Builds left by a crash start again (after `resume`).
   */
  async open(primary: { bundle: ModuleBundle; grants: Capability[]; config: Record<string, string> }): Promise<AppHost<P>> {
    this.options.registry.collectGarbage();
    for (const { app, record } of this.options.store.deployments.records()) this.records.set(app, JSON.parse(record) as DeploymentRecord);
    for (const record of this.records.values()) {
      if (record.stable) await this.mount(record);
    }
    const manifest = (primary.bundle.signatureFile as SignatureFile | undefined)?.manifest;
    const name = manifest?.name ?? '';
    const record = this.records.get(name);
    if (!record?.stable) {
      await this.installFirst(primary);
    } else if (manifest && !this.options.registry.version(name, manifest.version)) {
      // A new version named by --module: deployed like any other (the stable version serves until it is built).
      // One the deployment state refuses (a lower release, a canary in progress) leaves the registry's standing.
      await this.deploy({ bundle: primary.bundle, grants: primary.grants, actor: 'serve --module' }).catch((error: unknown) => {
        if (!(error instanceof DeployError) || error.status !== 409) throw error;
        this.options.logger.warn('--module names a version this node does not deploy; the registry deployment stands', { app: name, serving: record.stable!.version, module: manifest.version, code: error.code, reason: error.message });
      });
    } else if (manifest && manifest.version !== record.stable.version) {
      this.options.logger.info('the registry deployment stands; --module names a version it already holds', { app: name, serving: record.stable.version, module: manifest.version });
    }
    return this.hosts.get(name)!;
  }

  /** Starts the canary judge and the builds a crash interrupted. */
  resume(evaluateEveryMs = 1000): void {
    // (A build `open` started, for a new --module version, is running already.)
    for (const record of this.records.values()) if (record.building && !this.builds.has(record.app)) this.startBuild(record);
    this.timer = setInterval(() => this.evaluate(), evaluateEveryMs);
    this.timer.unref();
    for (const app of this.records.keys()) this.retireUnused(app);
  }

  /** Stops the judge and any build (a build starts again at the next start). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const b of this.builds.values()) b.abort.abort();
    await Promise.allSettled([...this.builds.values()].map((b) => b.done));
  }

  /** Checks a module whole, then registers it and starts building its state. Throws {@link DeployError}. */
  async deploy(request: DeployRequest): Promise<{ app: string; version: string; state: 'building' | 'checked' }> {
    const { bundle } = request;
    checkRequest(request, this.options.policy.maxModuleBytes);
    const manifest = (bundle.signatureFile as SignatureFile | undefined)?.manifest;
    const existing = manifest && typeof manifest.name === 'string' ? this.records.get(manifest.name) : undefined;
    const grants = request.grants ?? existing?.grants ?? [];
    this.options.refreshTrust?.();
    const module = await this.load(bundle, manifest?.name, grants, request.config ?? existing?.config ?? {});
    const m = module.manifest;
    const record = existing ?? newRecord(m.name, grants, request.config ?? {});
    const release = m.release ?? 0;
    const downgrade = release < record.highestRelease;
    checkVersion(m, record, this.options.registry.version(m.name, m.version), this.builds.has(m.name), request.allowDowngrade === true);
    if (request.dryRun) return { app: m.name, version: m.version, state: 'checked' };
    // Every check passed: now, and only now, write.
    this.options.registry.store(bundle);
    const ref: VersionRef = { version: m.version, sha256: m.sha256, release };
    // A new app serves nothing until its first version is built: that version is its stable one.
    const firstVersion = !this.hosts.has(m.name);
    const next: DeploymentRecord = {
      ...record,
      grants,
      config: request.config ?? record.config,
      highestRelease: Math.max(record.highestRelease, release),
      building: {
        ref,
        mode: request.state ?? 'rebuild',
        canaryShare: firstVersion ? null : (request.stages?.[0] ?? request.canaryShare ?? null),
        stages: firstVersion ? [] : (request.stages ?? []),
        startedAtMs: this.now(),
        actor: request.actor,
        action: 'deploy',
      },
    };
    this.options.store.transaction(() => {
      this.options.registry.register(m, (bundle.signatureFile as SignatureFile).signature!.key_id);
      this.write(next);
      this.addHistory(next.app, request.actor, 'deploy', m.version, describeDeploy(next));
      if (downgrade) this.addHistory(next.app, request.actor, 'downgrade', m.version, `release ${release} below ${record.highestRelease}, accepted by the operator`);
    });
    if (downgrade) {
      this.options.logger.warn('release downgrade accepted', { app: m.name, version: m.version, release, highest: record.highestRelease, actor: request.actor });
      this.count(m.name, 'downgrades');
    }
    this.options.logger.info('deploying', { app: m.name, version: m.version, mode: next.building!.mode, canary_share: next.building!.canaryShare, actor: request.actor });
    this.startBuild(next, module);
    return { app: m.name, version: m.version, state: 'building' };
  }

  /** Raises the canary's share, or (no share, or 1) makes it the stable version. */
  promote(app: string, actor: string, share?: number): DeploymentRecord {
    const record = this.recordOf(app);
    const host = this.hosts.get(app)!;
    if (!record.canary || !host.versions.canary) throw new DeployError(409, 'no_canary', `${app} has no canary to promote`);
    if (share !== undefined && !(share > 0 && share <= 1)) throw new DeployError(400, 'invalid_share', 'the share is a percentage above 0 and at most 100');
    if (share !== undefined && share < record.canary.share) throw new DeployError(409, 'share_decrease', 'a canary share only grows (devices never flip back); roll back instead');
    if (share === undefined || share >= 1) {
      const canary = host.versions.canary;
      host.versions.makeStable(canary);
      this.save({ ...record, stable: record.canary.ref, canary: null }, actor, 'promote', record.canary.ref.version, 'all traffic');
    } else {
      host.versions.setShare(share);
      this.save({ ...record, canary: { ...record.canary, share, sinceMs: this.now() } }, actor, 'promote', record.canary.ref.version, `${percent(share)} of devices`);
    }
    this.count(app, 'promotions');
    this.retireUnused(app);
    return this.records.get(app)!;
  }

  /**
   * Takes the canary (or the version being built) out of service; or, with `toVersion`, builds a version the
   * registry holds and makes it stable (always allowed: it is not a downgrade of the release counter).
   */
  async rollback(app: string, actor: string, reason: string, toVersion?: string): Promise<DeploymentRecord> {
    const record = this.recordOf(app);
    if (toVersion !== undefined) {
      const row = this.options.registry.version(app, toVersion);
      if (!row) throw new DeployError(404, 'unknown_version', `the registry holds no version ${toVersion} of ${app}`);
      // Every refusal before any change.
      if (record.stable?.version === row.version) throw new DeployError(409, 'already_serving', `${app}@${toVersion} is already the stable version`);
      if (record.canary || record.building) this.abandon(record, actor, reason);
      const current = this.records.get(app)!;
      const next: DeploymentRecord = {
        ...current,
        building: { ref: { version: row.version, sha256: row.sha256, release: row.release }, mode: 'rebuild', canaryShare: null, stages: [], startedAtMs: this.now(), actor, action: 'rollback' },
      };
      this.save(next, actor, 'rollback', toVersion, `to ${toVersion}: ${reason}`);
      this.startBuild(next);
      return next;
    }
    if (!record.canary && !record.building) throw new DeployError(409, 'nothing_to_roll_back', `${app} has no canary or build in progress; name a version to roll back to`);
    this.abandon(record, actor, reason);
    return this.records.get(app)!;
  }

  /** Judges every canary; rolls back a breach, advances a healthy staged one. */
  evaluate(): void {
    for (const record of this.records.values()) {
      const host = this.hosts.get(record.app);
      const canary = host?.versions.canary;
      if (!record.canary || !host || !canary) continue;
      const verdict = judge(host.versions.stats(host.versions.stable()), host.versions.stats(canary), this.options.policy);
      if (verdict.kind === 'rollback') {
        this.abandon(record, 'node', verdict.reason);
      } else if (verdict.kind === 'healthy' && record.canary.stages.length > 0 && this.now() - record.canary.sinceMs >= this.options.policy.stageIntervalMs) {
        const next = record.canary.stages.find((s) => s > record.canary!.share);
        this.promote(record.app, 'node', next);
      }
    }
  }

  /** The canary or build stops; all traffic to the stable version. */
  private abandon(record: DeploymentRecord, actor: string, reason: string): void {
    const version = record.canary?.ref.version ?? record.building?.ref.version ?? '';
    const build = this.builds.get(record.app);
    if (build) {
      build.abort.abort();
      this.builds.delete(record.app);
    }
    this.hosts.get(record.app)?.versions.dropCanary();
    this.save({ ...record, canary: null, building: null, rolledBack: { version, reason, atMs: this.now() } }, actor, 'rollback', version, reason);
    this.options.logger.warn('rolled back', { app: record.app, version, reason, actor });
    this.count(record.app, 'rollbacks');
    this.retireUnused(record.app);
  }

  /** A canary that failed to fold leaves at once (its state is no longer whole); the record follows. */
  private folderFailed(app: string, module: GuestModule, error: unknown): void {
    const host = this.hosts.get(app);
    if (host?.versions.canary !== module) return;
    host.versions.dropCanary();
    // Inside the fold's transaction: the record is written after it.
    setImmediate(() => {
      const record = this.records.get(app);
      if (record?.canary?.ref.version === module.version) this.abandon(record, 'node', `could not fold events: ${(error as Error).message}`);
    });
  }

  private startBuild(record: DeploymentRecord, loaded?: GuestModule): void {
    // One build per app: two would fold the same events into one namespace.
    if (this.builds.has(record.app)) throw new Error(`${record.app} is already building a version`);
    const building = record.building!;
    const abort = new AbortController();
    const run = async (): Promise<void> => {
      const target = loaded ?? (await this.load(this.options.registry.read(building.ref), record.app, record.grants, record.config));
      const host = this.hosts.get(record.app);
      const stable = host?.versions.stable();
      const mode = building.mode === 'carry' && !stable ? 'rebuild' : building.mode;
      const builder = new StateBuilder({
        store: this.options.store,
        stream: record.app,
        mode,
        target,
        source: stable,
        pipeline: host?.pipeline ?? NOTHING_FOLDED,
        signal: abort.signal,
        onCaughtUp: () => this.built(record.app, target),
      });
      entry.builder = builder;
      await builder.run();
    };
    const entry: { builder?: StateBuilder; abort: AbortController; done: Promise<void> } = { abort, done: Promise.resolve() };
    this.builds.set(record.app, entry);
    entry.done = run().catch((error: unknown) => {
      if (abort.signal.aborted) return;
      this.builds.delete(record.app);
      const current = this.records.get(record.app);
      if (current?.building) this.abandon(current, 'node', `state build failed: ${(error as Error).message}`);
    });
  }

  /** The last step of a build (synchronous, from the builder): the version serves. */
  private built(app: string, module: GuestModule): void {
    const record = this.records.get(app)!;
    const building = record.building!;
    this.builds.delete(app);
    let host = this.hosts.get(app);
    if (!host) {
      const versions = this.liveVersions(app, module);
      host = { app, versions, pipeline: this.options.createPipeline(app, versions, (m, e) => this.folderFailed(app, m, e)) };
      this.hosts.set(app, host);
    }
    if (building.canaryShare !== null && building.canaryShare < 1 && record.stable) {
      host.versions.startCanary(module, building.canaryShare);
      this.save({ ...record, building: null, canary: { ref: building.ref, share: building.canaryShare, stages: building.stages, sinceMs: this.now() } }, building.actor, 'canary', building.ref.version, `${percent(building.canaryShare)} of devices`);
    } else {
      host.versions.makeStable(module);
      this.save({ ...record, building: null, stable: building.ref }, building.actor, building.action === 'rollback' ? 'serving' : 'promote', building.ref.version, 'all traffic');
    }
    this.options.logger.info('version serving', { app, version: module.version, share: host.versions.canary === module ? host.versions.canaryShare : 1 });
    this.retireUnused(app);
  }

  /** The primary app's first version (no record yet). */
  private async installFirst(primary: { bundle: ModuleBundle; grants: Capability[]; config: Record<string, string> }): Promise<void> {
    const module = await this.options.runtime.load(primary.bundle, { grants: primary.grants, config: primary.config, requireGrants: true });
    const m = module.manifest;
    if (this.options.store.kvList(module.namespace, new Uint8Array(0), undefined, 1).length === 0 && this.options.store.countEvents(m.name) > 0) {
      // A version new to an event log that has events (an upgrade from before the registry): its state is
      // built from the log before the node serves (before its record: a crash here builds again), and what the fold journal held is in the log already.
      this.options.logger.info('building the state of the first version from the event log before serving', { app: m.name, version: m.version });
      const builder = new StateBuilder({ store: this.options.store, stream: m.name, mode: 'rebuild', target: module, pipeline: NOTHING_FOLDED, onCaughtUp: () => {} });
      await builder.run();
      const journal = this.options.store.foldJournal(m.name);
      this.options.store.transaction(() => journal.clear());
    }
    this.options.registry.store(primary.bundle);
    const ref: VersionRef = { version: m.version, sha256: m.sha256, release: m.release ?? 0 };
    const record: DeploymentRecord = { ...newRecord(m.name, primary.grants, {}), highestRelease: ref.release, stable: ref };
    this.options.store.transaction(() => {
      this.options.registry.register(m, (primary.bundle.signatureFile as SignatureFile).signature!.key_id);
      this.write(record);
      this.addHistory(m.name, 'serve --module', 'install', m.version, 'first version of the app on this node');
    });
    this.mountModule(record, module);
  }

  private async mount(record: DeploymentRecord): Promise<void> {
    const stable = await this.load(this.options.registry.read(record.stable!), record.app, record.grants, record.config);
    const host = this.mountModule(record, stable);
    if (record.canary) {
      const canary = await this.load(this.options.registry.read(record.canary.ref), record.app, record.grants, record.config);
      host.versions.startCanary(canary, record.canary.share);
    }
  }

  private mountModule(record: DeploymentRecord, stable: GuestModule): AppHost<P> {
    const versions = this.liveVersions(record.app, stable);
    const host: AppHost<P> = { app: record.app, versions, pipeline: this.options.createPipeline(record.app, versions, (m, e) => this.folderFailed(record.app, m, e)) };
    this.hosts.set(record.app, host);
    return host;
  }

  private liveVersions(app: string, stable: GuestModule): LiveVersions {
    return new LiveVersions(app, stable, this.options.policy.windowMs, this.now);
  }

  private async load(bundle: ModuleBundle, app: string | undefined, grants: Capability[], config: Record<string, string>): Promise<GuestModule> {
    try {
      const fixed = app === undefined ? undefined : this.options.fixedConfig?.(app);
      return await this.options.runtime.load(bundle, { grants, config: fixed ?? config, requireGrants: true });
    } catch (error) {
      if (error instanceof ModuleLoadError) throw new DeployError(422, error.code, error.message);
      throw error;
    }
  }

  /** The state of the app's versions that neither serve nor build is deleted in the background (./retire.ts). */
  private retireUnused(app: string): void {
    retireUnusedVersions({
      store: this.options.store,
      app,
      inUse: () => {
        const r = this.records.get(app);
        return new Set([r?.stable, r?.canary?.ref, r?.building?.ref].flatMap((ref) => (ref ? [ref.version] : [])));
      },
      stopped: () => this.closed,
      logger: this.options.logger,
    });
  }

  private count(app: string, what: 'rollbacks' | 'promotions' | 'downgrades'): void {
    const c = this.countsByApp.get(app) ?? { rollbacks: 0, promotions: 0, downgrades: 0 };
    c[what]++;
    this.countsByApp.set(app, c);
  }

  private recordOf(app: string): DeploymentRecord {
    const record = this.records.get(app);
    if (!record) throw new DeployError(404, 'unknown_app', `no app ${app} on this node`);
    return record;
  }

  /** Writes the record and a history line in one transaction. */
  private save(record: DeploymentRecord, actor: string, action: string, version: string, detail: string): void {
    this.options.store.transaction(() => {
      this.write(record);
      this.addHistory(record.app, actor, action, version, detail);
    });
  }

  private write(record: DeploymentRecord): void {
    this.options.store.deployments.putRecord(record.app, JSON.stringify(record));
    this.records.set(record.app, record);
  }

  private addHistory(app: string, actor: string, action: string, version: string, detail: string): void {
    this.options.store.deployments.addHistory({ app, atMs: this.now(), actor, action, version, detail });
  }
}

/** For the first version of an app: nothing folds yet, so there is nothing to capture. */
const NOTHING_FOLDED: FoldSource = { foldNow: () => {}, captureFolds: () => () => {} };
