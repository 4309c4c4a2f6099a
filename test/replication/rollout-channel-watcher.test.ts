/**
 * A node following the fleet's rollout records against a real nats-server with JetStream (issue 15, "Fleet
 * rollout over NATS"): the latest record of each app only, catch-up from a stored KV revision, a failing
 * apply retried without holding up other apps, damaged module bytes never handed over, and the watcher
 * inside a FleetConnection session across a server restart. Each test has its own server.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetConnection } from '../../src/replication/connection.js';
import { createRolloutWatcher, ModuleDigestError, type RolloutWatcherOptions } from '../../src/replication/index.js';
import { openModules, publishRollout } from '../../src/replication/rollout-channel.js';
import { sha256Hex, type RolloutRecord } from '../../src/replication/rollout-record.js';
import { RolloutWatcher } from '../../src/replication/rollout-watcher.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { until } from '../helpers/poll.js';
import { NatsServer } from './helpers/nats-server.js';

const FAST_RETRY = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0 };

/** A module (any bytes: the channel does not load them) and its record. */
function rollout(app: string, release: number): { record: RolloutRecord; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(`module ${app} release ${release}`);
  const sha256 = sha256Hex(bytes);
  const signature_file = { manifest: { name: app, version: `1.0.${release}`, sha256 } };
  return { record: { app, version: `1.0.${release}`, sha256, release, canary_share: 1, signature_file, published_by: 'test', published_at_ms: 1_700_000_000_000 + release }, bytes };
}

async function publish(nc: NatsConnection, app: string, release: number): Promise<number> {
  const { record, bytes } = rollout(app, release);
  return (await publishRollout(nc, record, bytes)).revision;
}

interface Applied {
  app: string;
  release: number;
  revision: number;
  bytes?: Uint8Array;
  error?: unknown;
}

/** A watcher that records what it applies (with the fetched bytes) and every revision it reports. */
function recorder(options: Partial<RolloutWatcherOptions> & { logLines?: string[] } = {}) {
  const applied: Applied[] = [];
  const reported: number[] = [];
  const logger = createLogger('info', { destination: (line) => options.logLines?.push(line) });
  const watcher = new RolloutWatcher({
    logger,
    retryBackoff: FAST_RETRY,
    onApplied: (r) => void reported.push(r),
    apply: async (record, fetchModule, revision) => {
      try {
        applied.push({ app: record.app, release: record.release, revision, bytes: new Uint8Array(await fetchModule()) });
      } catch (error) {
        applied.push({ app: record.app, release: record.release, revision, error });
      }
    },
    ...options,
  });
  return { watcher, applied, reported };
}

const summary = (applied: Applied[]) => applied.map((a) => `${a.app}@${a.release}#${a.revision}`).sort();

describe('a rollout watcher', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeEach(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url });
  });
  afterEach(async () => {
    await nc?.close();
    await nats?.cleanup();
  });

  it('applies a published record with its module bytes, then each new one as it is published', async () => {
    await publish(nc, 'aggregator', 1);
    const { watcher, applied, reported } = recorder();
    watcher.start(nc);
    try {
      await until(() => watcher.revision === 1, { message: () => `revision 1 applied; applied ${JSON.stringify(summary(applied))}` });
      expect(applied[0]!.bytes).toEqual(rollout('aggregator', 1).bytes);
      await publish(nc, 'aggregator', 2);
      await until(() => watcher.revision === 2, { message: 'the record published while watching' });
      expect(summary(applied)).toEqual(['aggregator@1#1', 'aggregator@2#2']);
      expect(applied[1]!.bytes).toEqual(rollout('aggregator', 2).bytes);
      expect(reported).toEqual([1, 2]);
    } finally {
      await watcher.stop();
    }
  });

  it('started after several publishes, applies only the latest record of each app', async () => {
    await publish(nc, 'aggregator', 1);
    await publish(nc, 'other', 1);
    await publish(nc, 'aggregator', 2);
    const last = await publish(nc, 'other', 2);
    const { watcher, applied } = recorder();
    watcher.start(nc);
    try {
      await until(() => watcher.revision === last, { message: () => `revision ${last}; applied ${JSON.stringify(summary(applied))}` });
      expect(summary(applied)).toEqual(['aggregator@2#3', 'other@2#4']);
    } finally {
      await watcher.stop();
    }
  });

  it('stopped while records are published, resumes from the revision it reported and applies only what changed, latest first', async () => {
    const first = recorder();
    first.watcher.start(nc);
    await publish(nc, 'aggregator', 1);
    await publish(nc, 'other', 1);
    await until(() => first.reported.at(-1) === 2, { message: 'both first records applied' });
    await first.watcher.stop();
    const persisted = first.reported.at(-1)!;

    await publish(nc, 'aggregator', 2);
    await publish(nc, 'aggregator', 3);
    const last = await publish(nc, 'third', 1);

    const second = recorder({ revision: persisted });
    second.watcher.start(nc);
    try {
      await until(() => second.watcher.revision === last, { message: () => `caught up to ${last}; applied ${JSON.stringify(summary(second.applied))}` });
      expect(summary(second.applied)).toEqual(['aggregator@3#4', 'third@1#5']);
      expect(second.reported.at(-1)).toBe(last);
    } finally {
      await second.watcher.stop();
    }
  });

  it('starts over from 0 when its stored revision is past the bucket (the bucket was recreated)', async () => {
    await publish(nc, 'aggregator', 1);
    const { watcher, applied, reported } = recorder({ revision: 100 });
    watcher.start(nc);
    try {
      await until(() => applied.length === 1, { message: 'the record of the recreated bucket applied' });
      expect(summary(applied)).toEqual(['aggregator@1#1']);
      await until(() => reported.at(-1) === 1, { message: 'revision 1 reported' });
    } finally {
      await watcher.stop();
    }
  });

  it('retries a failing apply with backoff and logs it, applies other apps meanwhile, and drops it for a newer record', async () => {
    const logLines: string[] = [];
    const attempts: string[] = [];
    const done: string[] = [];
    const { watcher, reported } = recorder({
      logLines,
      apply: async (record) => {
        attempts.push(`${record.app}@${record.release}`);
        if (record.app === 'aggregator' && record.release === 1) throw new Error('the node refuses release 1 for now');
        done.push(`${record.app}@${record.release}`);
      },
    });
    watcher.start(nc);
    try {
      await publish(nc, 'aggregator', 1);
      await publish(nc, 'other', 1);
      await until(() => done.includes('other@1') && attempts.filter((a) => a === 'aggregator@1').length >= 3, { message: () => `retries and the other app; attempts ${attempts.join(' ')}` });
      // Revision 1 is not applied yet, so nothing may be persisted past it.
      expect(watcher.revision).toBe(0);
      expect(reported).toEqual([]);
      expect(logLines.some((l) => l.includes('applying a rollout failed') && l.includes('the node refuses release 1'))).toBe(true);

      const newer = await publish(nc, 'aggregator', 2);
      await until(() => watcher.revision === newer, { message: () => `the newer record applied; attempts ${attempts.join(' ')}` });
      expect(done.sort()).toEqual(['aggregator@2', 'other@1']);
      expect(reported.at(-1)).toBe(newer);
    } finally {
      await watcher.stop();
    }
  });

  it('hands over no bytes that differ from the record: fetchModule throws for a damaged object', async () => {
    const { record } = rollout('aggregator', 1);
    const revision = await publish(nc, 'aggregator', 1);
    await (await openModules(nc)).putBlob({ name: record.sha256 }, new TextEncoder().encode('damaged'));
    const { watcher, applied } = recorder();
    watcher.start(nc);
    try {
      await until(() => watcher.revision === revision, { message: 'the record handed to apply' });
      expect(applied).toHaveLength(1);
      expect(applied[0]!.bytes).toBeUndefined();
      expect(applied[0]!.error).toBeInstanceOf(ModuleDigestError);
      expect(applied[0]!.error).toMatchObject({ expected: record.sha256, actual: sha256Hex(new TextEncoder().encode('damaged')) });
    } finally {
      await watcher.stop();
    }
  });

  it('runs as a FleetConnection session and catches up after the server restarts', async () => {
    await publish(nc, 'aggregator', 1);
    const applied: string[] = [];
    const logger = createLogger('error');
    const watcher = await createRolloutWatcher({ logger, retryBackoff: FAST_RETRY, apply: async (r) => void applied.push(`${r.app}@${r.release}`) });
    const connection = new FleetConnection({ servers: [nats.url], name: 'rollout-test', logger, backoff: FAST_RETRY, session: (c, signal) => watcher.run(c, signal) });
    connection.start();
    try {
      await until(() => watcher.revision === 1, { message: 'the first record applied' });
      await nc.close();
      await nats.restart();
      nc = await connect({ servers: nats.url });
      const revision = await publish(nc, 'aggregator', 2);
      await until(() => watcher.revision === revision, { timeoutMs: 15_000, message: () => `applied after the restart; applied ${applied.join(' ')}` });
      expect(applied).toEqual(['aggregator@1', 'aggregator@2']);
    } finally {
      await connection.stop();
    }
  });
});
