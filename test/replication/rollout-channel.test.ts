/**
 * The fleet rollout channel against a real nats-server with JetStream (issue 15, "Fleet rollout over NATS"):
 * module bytes in the Object Store, one record per app in the KV bucket written by compare-and-swap, and the
 * publishing side's refusals. Each test has its own server, so KV revisions start at 1.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchRolloutModule, openModules, openRollouts, publishRollout } from '../../src/replication/rollout-channel.js';
import { ModuleDigestError, ModuleMissingError, RolloutConflictError, RolloutDowngradeError, publishRollout as publishLazily } from '../../src/replication/index.js';
import { decodeRolloutRecord, sha256Hex, type RolloutRecord } from '../../src/replication/rollout-record.js';
import { NatsServer } from './helpers/nats-server.js';

/** A module (any bytes: the channel does not load them) and its record. */
function rollout(app: string, release: number, options: { share?: number; by?: string } = {}): { record: RolloutRecord; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(`module ${app} release ${release} ${options.by ?? ''}`);
  const sha256 = sha256Hex(bytes);
  const record: RolloutRecord = {
    app,
    version: `1.0.${release}`,
    sha256,
    release,
    canary_share: options.share ?? 1,
    signature_file: { manifest: { name: app, version: `1.0.${release}`, sha256 }, signature: { alg: 'Ed25519', key_id: 'test', value: 'unchecked' } },
    published_by: options.by ?? 'test',
    published_at_ms: 1_700_000_000_000 + release,
  };
  return { record, bytes };
}

async function history(nc: NatsConnection, app: string): Promise<RolloutRecord[]> {
  const kv = await openRollouts(nc);
  const out: RolloutRecord[] = [];
  for await (const e of await kv.history({ key: app })) out.push(decodeRolloutRecord(app, e.value));
  return out;
}

async function stored(nc: NatsConnection, app: string): Promise<{ record: RolloutRecord; revision: number } | undefined> {
  const e = await (await openRollouts(nc)).get(app);
  return e && e.operation === 'PUT' ? { record: decodeRolloutRecord(app, e.value), revision: e.revision } : undefined;
}

describe('publishing a rollout', () => {
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

  it('stores the bytes once under their SHA-256 and the record under the app, creating the buckets', async () => {
    const first = rollout('aggregator', 1, { share: 0.1 });
    const a = await publishLazily(nc, first.record, first.bytes);
    expect(a).toEqual({ revision: 1, uploaded: true, attempts: 1, replaced: undefined });
    const again = { ...first.record, canary_share: 0.5 };
    const b = await publishRollout(nc, again, first.bytes);
    expect(b).toEqual({ revision: 2, uploaded: false, attempts: 1, replaced: first.record });
    expect(await stored(nc, 'aggregator')).toEqual({ record: again, revision: 2 });
    const objects = await (await openModules(nc)).list();
    expect(objects.map((o) => o.name)).toEqual([first.record.sha256]);
    expect(new Uint8Array(await fetchRolloutModule(nc, again))).toEqual(first.bytes);
    const status = await (await openRollouts(nc)).status();
    expect(status.history).toBeGreaterThan(1);
    expect(status.streamInfo.config.storage).toBe('file');
  });

  it('refuses bytes that are not the ones the record names, and writes nothing', async () => {
    const { record } = rollout('aggregator', 1);
    const other = rollout('aggregator', 2).bytes;
    await expect(publishRollout(nc, record, other)).rejects.toBeInstanceOf(ModuleDigestError);
    await expect(publishRollout(nc, { ...record, canary_share: 2 }, rollout('aggregator', 1).bytes)).rejects.toMatchObject({ code: 'invalid_rollout' });
    expect(await stored(nc, 'aggregator')).toBeUndefined();
  });

  it('refuses a lower release than the stored one unless told to downgrade; an equal one is a change of share', async () => {
    const r3 = rollout('aggregator', 3);
    await publishRollout(nc, r3.record, r3.bytes);
    const r2 = rollout('aggregator', 2);
    const refused = await publishRollout(nc, r2.record, r2.bytes).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RolloutDowngradeError);
    expect(refused).toMatchObject({ code: 'release_rollback', app: 'aggregator', storedRelease: 3, release: 2 });
    expect(await stored(nc, 'aggregator')).toEqual({ record: r3.record, revision: 1 });

    const other = rollout('other-app', 1);
    expect((await publishRollout(nc, other.record, other.bytes)).revision).toBe(2);

    const same = await publishRollout(nc, { ...r3.record, canary_share: 0.25 }, r3.bytes);
    expect(same.replaced).toEqual(r3.record);
    const down = await publishRollout(nc, r2.record, r2.bytes, { allowDowngrade: true });
    expect(down.replaced?.release).toBe(3);
    expect(await stored(nc, 'aggregator')).toEqual({ record: r2.record, revision: down.revision });
  });

  it('makes two publishers that read the same revision both retry; the last write wins and every write is kept', async () => {
    const base = rollout('aggregator', 1, { by: 'base' });
    await publishRollout(nc, base.record, base.bytes);
    const c = rollout('aggregator', 2, { by: 'c' });
    let reads = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // Both publishers hold after their first read until both have read revision 1 and a third one wrote.
    const holdFirstRead = () => {
      let first = true;
      return async ({ revision }: { revision: number }) => {
        if (!first) return;
        first = false;
        expect(revision).toBe(1);
        if (++reads === 2) {
          await publishRollout(nc, c.record, c.bytes);
          release();
        }
        await released;
      };
    };
    const a = rollout('aggregator', 2, { by: 'a', share: 0.1 });
    const b = rollout('aggregator', 2, { by: 'b', share: 0.2 });
    const [pa, pb] = await Promise.all([
      publishRollout(nc, a.record, a.bytes, { onRead: holdFirstRead() }),
      publishRollout(nc, b.record, b.bytes, { onRead: holdFirstRead() }),
    ]);
    expect(pa.attempts).toBeGreaterThanOrEqual(2);
    expect(pb.attempts).toBeGreaterThanOrEqual(2);
    const last = pa.revision > pb.revision ? a : b;
    expect(await stored(nc, 'aggregator')).toEqual({ record: last.record, revision: Math.max(pa.revision, pb.revision) });
    const written = await history(nc, 'aggregator');
    expect(written.map((r) => r.published_by).sort()).toEqual(['a', 'b', 'base', 'c']);
    expect(written.at(-1)).toEqual(last.record);
  });

  it('gives up with a conflict error once its attempts run out, and writes nothing', async () => {
    const base = rollout('aggregator', 1, { by: 'base' });
    await publishRollout(nc, base.record, base.bytes);
    const other = rollout('aggregator', 2, { by: 'other' });
    const mine = rollout('aggregator', 2, { by: 'mine' });
    let writes = 0;
    const racing = publishRollout(nc, mine.record, mine.bytes, {
      maxAttempts: 2,
      // Another publisher writes after every read of this one.
      onRead: async () => void (await publishRollout(nc, { ...other.record, published_at_ms: ++writes }, other.bytes)),
    });
    const error = await racing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RolloutConflictError);
    expect(error).toMatchObject({ code: 'rollout_conflict', attempts: 2 });
    expect((await history(nc, 'aggregator')).map((r) => r.published_by)).toEqual(['base', 'other', 'other']);
  });

  it('detects module bytes that do not match the record (a damaged object) and a missing one; publishing again repairs it', async () => {
    const { record, bytes } = rollout('aggregator', 1);
    await publishRollout(nc, record, bytes);
    const modules = await openModules(nc);
    await modules.putBlob({ name: record.sha256 }, new TextEncoder().encode('not the module'));
    const error = await fetchRolloutModule(nc, record).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModuleDigestError);
    expect(error).toMatchObject({ code: 'module_digest_mismatch', expected: record.sha256, actual: sha256Hex(new TextEncoder().encode('not the module')) });

    expect((await publishRollout(nc, record, bytes)).uploaded).toBe(true);
    expect(new Uint8Array(await fetchRolloutModule(nc, record))).toEqual(bytes);

    await modules.delete(record.sha256);
    await expect(fetchRolloutModule(nc, record)).rejects.toBeInstanceOf(ModuleMissingError);
  });
});
