/**
 * A rollout over NATS reaches three real nodes, including one that was offline when it was published: the
 * module bytes go to a JetStream Object Store, the record to a KV bucket; every node verifies and deploys
 * it itself, and `GET /v1/fleet` shows each node's versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testKey } from '../helpers/guests.js';
import { eventually } from '../helpers/poll.js';
import { NatsServer } from '../replication/helpers/nats-server.js';
import { TestFleet } from '../replication/helpers/fleet.js';
import { aggregatorVersion, appView, deploy } from './deploy-fixtures.js';

const NAMES = ['n1', 'n2', 'n3'];

describe('a rollout to a fleet of three nodes', () => {
  let nats: NatsServer;
  let fleet: TestFleet;
  let admin: string;
  let reader: string;

  beforeAll(async () => {
    nats = await NatsServer.start();
    fleet = new TestFleet(NAMES, nats.url);
    for (const m of fleet.members.values()) {
      mkdirSync(join(m.dataDir, 'trusted-keys'), { recursive: true });
      writeFileSync(join(m.dataDir, 'trusted-keys', 'test.pem'), testKey.publicKeyPem);
    }
    await Promise.all(NAMES.map((n) => fleet.start(n)));
    admin = await fleet.node('n1').token('admin', 'ops');
    reader = await fleet.node('n1').token('read');
  }, 60_000);

  afterAll(async () => {
    await fleet?.cleanup();
    await nats?.cleanup();
  });

  const stableOn = async (name: string): Promise<string | undefined> => (await appView(fleet.node(name), admin, 'aggregator'))?.stable?.version;

  it('reaches the nodes online at once, and an offline one when it comes back', async () => {
    await fleet.stop('n3');
    const res = await deploy(fleet.node('n1'), admin, aggregatorVersion('0.2.0', 2), { fleet: true });
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await res.json()).toMatchObject({ app: 'aggregator', version: '0.2.0', state: 'published' });
    for (const name of ['n1', 'n2']) {
      await eventually(async () => ((await stableOn(name)) === '0.2.0' ? true : undefined), { timeoutMs: 30_000, message: `${name} serves 0.2.0` });
    }
    const n2 = (await appView(fleet.node('n2'), admin, 'aggregator'))!;
    expect(n2.history.find((h) => h.action === 'deploy')?.actor).toBe('fleet:ops');
    await fleet.start('n3');
    await eventually(async () => ((await stableOn('n3')) === '0.2.0' ? true : undefined), { timeoutMs: 30_000, message: 'n3 catches up after its restart' });
    // The fleet view shows each node's versions.
    await eventually(async () => {
      const res = await fleet.node('n1').fetch('/v1/fleet', { token: reader });
      const body = (await res.json()) as { nodes: Array<{ node_id: string; versions: Array<{ app: string; stable: string }> }> };
      const seen = body.nodes.map((n) => `${n.node_id}:${n.versions.find((v) => v.app === 'aggregator')?.stable}`).sort();
      return seen.join(',') === 'n1:0.2.0,n2:0.2.0,n3:0.2.0' ? true : undefined;
    }, { timeoutMs: 15_000, message: 'every node shows 0.2.0 in the fleet view' });
  }, 120_000);

  it('a rollout with a release below what a node accepted is refused by the fleet channel and changes nothing', async () => {
    const res = await deploy(fleet.node('n2'), admin, aggregatorVersion('0.1.5', 1), { fleet: true });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('release_rollback');
    for (const name of NAMES) expect(await stableOn(name)).toBe('0.2.0');
  }, 30_000);
});
