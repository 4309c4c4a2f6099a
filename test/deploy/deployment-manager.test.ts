/**
 * The node's judge of canaries, with the clock under the test's control (no waiting): staged promotion
 * after healthy intervals, a hold while there are too few calls to judge, a rollback when the canary's
 * error rate exceeds the stable's by more than allowed, and each decision in the history with its reason.
 * In-process: a real SQLite store, a real Runtime and the real aggregator module.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DeploymentManager, ModuleRegistry, deploymentGauges, type DeploymentPolicy } from '../../src/deploy/index.js';
import { IngestPipeline } from '../../src/ingest/index.js';
import { Runtime, type GuestModule } from '../../src/runtime/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { createLogger } from '../../src/telemetry/index.js';
import { testKey } from '../helpers/guests.js';
import { eventually } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { AGGREGATOR_CAPABILITIES, aggregatorVersion } from './deploy-fixtures.js';

const POLICY: DeploymentPolicy = { windowMs: 60_000, minCalls: 10, maxErrorExcess: 0.05, stageIntervalMs: 300_000, maxModuleBytes: 16 * 1024 * 1024 };
const CONFIG = { grace_period_ms: String(7 * 24 * 3600 * 1000), max_future_ms: '300000', max_regions: '10000' };

describe('the canary judge, with a controlled clock', () => {
  let store: SqliteStore;
  let manager: DeploymentManager<IngestPipeline>;
  let now: number;

  beforeEach(async () => {
    const dir = tempDir('deploy-manager');
    now = 1_800_000_000_000;
    store = SqliteStore.open({ path: join(dir, 'edgeagg.db') });
    const runtime = new Runtime({ store, trustedKeys: [testKey.publicKeyPem] });
    manager = new DeploymentManager<IngestPipeline>({
      store,
      registry: new ModuleRegistry(dir, store.deployments),
      runtime,
      policy: POLICY,
      createPipeline: (_app, versions, onFolderFailed) => new IngestPipeline({ store, module: versions.stable(), folders: () => versions.folders(), onFolderFailed }),
      fixedConfig: () => CONFIG,
      logger: createLogger('error'),
      now: () => now,
    });
    const first = aggregatorVersion('0.1.0');
    await manager.open({ bundle: { wasm: first.wasm, signatureFile: first.signature }, grants: AGGREGATOR_CAPABILITIES, config: CONFIG });
  });

  afterEach(async () => {
    await manager.close();
    store.close();
  });

  const host = () => manager.host('aggregator')!;
  /** `n` calls of each version in the window, `errors` of the canary's failed. */
  const traffic = (n: number, canaryErrors = 0): void => {
    const { versions } = host();
    for (let i = 0; i < n; i++) {
      versions.observe(versions.stable(), false, 1);
      versions.observe(versions.canary!, i < canaryErrors, 1);
    }
  };
  const deployCanary = async (version: string, body: { canaryShare?: number; stages?: number[] }): Promise<GuestModule> => {
    const m = aggregatorVersion(version, 1);
    await manager.deploy({ bundle: { wasm: m.wasm, signatureFile: m.signature }, actor: 'ops', ...body });
    return eventually(() => (host().versions.canary?.version === version ? host().versions.canary : undefined), { timeoutMs: 10_000, message: `${version} is the canary` });
  };

  it('promotes a staged canary 5% -> 25% -> 100% after healthy intervals, and holds while there are too few calls', async () => {
    await deployCanary('0.2.0', { stages: [0.05, 0.25, 1] });
    expect(host().versions.canaryShare).toBe(0.05);
    // A healthy interval has passed, but with fewer calls than the policy needs: the rollout holds.
    now += POLICY.stageIntervalMs + 1;
    traffic(POLICY.minCalls - 1);
    manager.evaluate();
    expect(host().versions.canaryShare).toBe(0.05);
    traffic(1);
    manager.evaluate();
    expect(host().versions.canaryShare).toBe(0.25);
    // Healthy, but not for a whole interval at this share yet.
    now += POLICY.stageIntervalMs - 1;
    traffic(POLICY.minCalls);
    manager.evaluate();
    expect(host().versions.canaryShare).toBe(0.25);
    now += 2;
    manager.evaluate();
    expect(host().versions.stable().version).toBe('0.2.0');
    expect(host().versions.canary).toBeUndefined();
    expect(manager.history('aggregator').map((h) => `${h.actor} ${h.action} ${h.version}`).slice(0, 3)).toEqual(['node promote 0.2.0', 'node promote 0.2.0', 'ops canary 0.2.0']);
  });

  it('rolls back a canary whose error rate exceeds the stable one by more than allowed, and only then', async () => {
    await deployCanary('0.3.0', { canaryShare: 0.1 });
    // 1 error in 20 calls: 5%, not over the 5 points allowed.
    traffic(20, 1);
    manager.evaluate();
    expect(host().versions.canary?.version).toBe('0.3.0');
    // The window forgets those; then 3 errors in 20 calls: 15%.
    now += POLICY.windowMs * 2;
    traffic(20, 3);
    manager.evaluate();
    expect(host().versions.canary).toBeUndefined();
    expect(host().versions.stable().version).toBe('0.1.0');
    const record = manager.record('aggregator')!;
    expect(record.rolledBack).toMatchObject({ version: '0.3.0' });
    expect(record.rolledBack!.reason).toMatch(/error rate 15\.0% \(3 of 20 calls\) against 0\.0% for stable/);
    expect(manager.history('aggregator')[0]).toMatchObject({ actor: 'node', action: 'rollback', version: '0.3.0' });
    expect(deploymentGauges(manager)[0]).toMatchObject({ app: 'aggregator', canaryShare: 0, rollbacks: 1 });
  });

  it('keeps a device on the canary as its share grows, and sends requests without a device to the stable version', async () => {
    const canary = await deployCanary('0.4.0', { canaryShare: 0.2 });
    const devices = Array.from({ length: 2000 }, (_, i) => `sensor-${i}`);
    const before = devices.filter((d) => host().versions.canaryFor(d) === canary);
    expect(before.length).toBeGreaterThan(300);
    expect(before.length).toBeLessThan(500);
    manager.promote('aggregator', 'ops', 0.5);
    const after = new Set(devices.filter((d) => host().versions.canaryFor(d) === canary));
    for (const d of before) expect(after.has(d)).toBe(true);
    expect(() => manager.promote('aggregator', 'ops', 0.3)).toThrow(/only grows/);
  });

  it('deletes the state of a version that no longer serves, in the background, and keeps the serving one', async () => {
    const readings = Array.from({ length: 50 }, (_, i) => ({ device_id: `d-${i}`, region: `r-${i % 5}`, temperature_c: i, timestamp: Date.now() - 60_000 + i }));
    const res = await host().pipeline.submit({ method: 'POST', path: '/v1/readings', query: '', contentType: 'application/json', principal: { kind: 'gateway', subject: 'gw' }, body: Buffer.from(JSON.stringify(readings)) });
    expect(res.status).toBe(200);
    host().pipeline.foldNow();
    const records = (namespace: string) => store.kvList(namespace, new Uint8Array(0), undefined, 10_000).length;
    expect(records('aggregator@0.1.0')).toBeGreaterThan(0);
    const next = aggregatorVersion('0.6.0', 1);
    await manager.deploy({ bundle: { wasm: next.wasm, signatureFile: next.signature }, actor: 'ops' });
    await eventually(() => (host().versions.stable().version === '0.6.0' ? true : undefined), { timeoutMs: 10_000 });
    const serving = records('aggregator@0.6.0');
    expect(serving).toBeGreaterThan(0);
    await eventually(() => (records('aggregator@0.1.0') === 0 ? true : undefined), { timeoutMs: 10_000, message: 'the old version\'s state deleted' });
    expect(records('aggregator@0.6.0')).toBe(serving);
  });
});
