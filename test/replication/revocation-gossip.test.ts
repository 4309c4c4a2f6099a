/**
 * Token revocations honoured fleet-wide (issue 16): `edgeagg token revoke` against one node's data directory,
 * and every node of the fleet refuses the token soon after, a node that joins later included. The merge is a
 * grow-only set with a max per (kind, value): checked as a property.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Revocation } from '../../src/auth/index.js';
import { parseRevocations } from '../../src/replication/revocation-gossip.js';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { NatsServer } from './helpers/nats-server.js';

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('revocation messages', () => {
  it('keep only well-formed revocations', () => {
    const good: Revocation = { kind: 'token', value: 'abc', revokedAtMs: 5 };
    expect(parseRevocations(encode([good, { kind: 'device', value: 'x', revokedAtMs: 1 }, { kind: 'subject', value: '', revokedAtMs: 1 }, { kind: 'subject', value: 'd', revokedAtMs: -1 }, null, 'x']))).toEqual([good]);
    expect(parseRevocations(new TextEncoder().encode('not json'))).toEqual([]);
    expect(parseRevocations(encode({ kind: 'token' }))).toEqual([]);
  });

  it('merge to the same list whatever the order and the repeats (latest time per kind and value)', () => {
    const revocation = fc.record({ kind: fc.constantFrom<'token' | 'subject'>('token', 'subject'), value: fc.constantFrom('a', 'b', 'c'), revokedAtMs: fc.nat(1_000) });
    fc.assert(
      fc.property(fc.array(revocation, { maxLength: 30 }), fc.func(fc.integer()), (list, order) => {
        const merge = (items: Revocation[]) => {
          const m = new Map<string, number>();
          for (const r of items) m.set(`${r.kind}:${r.value}`, Math.max(m.get(`${r.kind}:${r.value}`) ?? -1, r.revokedAtMs));
          return [...m].sort();
        };
        const shuffled = [...list].sort((x, y) => order(x) - order(y));
        expect(merge([...shuffled, ...list])).toEqual(merge(list));
      }),
      { seed: 16, numRuns: 200 },
    );
  });
});

describe('a fleet', () => {
  let nats: NatsServer;
  const nodes: NodeProcess[] = [];

  afterAll(async () => {
    for (const n of nodes) {
      await n.stop();
      n.cleanup();
    }
    await nats?.cleanup();
  });

  it('refuses a token revoked on one node on every node, a node that joins later too', async () => {
    nats = await NatsServer.start();
    const start = async (name: string, tokenKeys?: string): Promise<NodeProcess> => {
      const node = await NodeProcess.start({ flags: { nats: nats.url, 'node-id': name, ...(tokenKeys ? { 'token-keys': tokenKeys } : {}) } });
      nodes.push(node);
      return node;
    };
    const a = await start('rev-a');
    const aKey = join(a.dataDir, 'keys', 'node-token.pub.pem');
    const b = await start('rev-b', aKey);
    const token = await a.token('read');
    const accepted = async (node: NodeProcess) => (await node.fetch('/v1/regions', { token })).status;
    expect(await accepted(b)).toBe(200);

    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'token', 'revoke', '--token', token, '--data-dir', a.dataDir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    await until(async () => (await accepted(a)) === 401, { timeoutMs: 10_000, message: 'the node whose data directory holds the revocation refuses the token' });
    await until(async () => (await accepted(b)) === 401, { timeoutMs: 30_000, message: 'the other node refuses it too' });

    const late = await start('rev-c', aKey);
    await until(async () => (await accepted(late)) === 401, { timeoutMs: 30_000, message: 'a node that joined after the revocation refuses it' });
    const res = await late.fetch('/v1/regions', { token });
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/revoked/);
  });
});
