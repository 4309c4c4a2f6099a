/**
 * The fleet over TLS with credentials (issue 16): a real nats-server that requires TLS (its certificate signed
 * by a CA the test makes) and a user and password. A node given the CA and the credentials joins and
 * replicates; one with a wrong password stays out, says why, and keeps serving its own readings.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { NatsServer } from './helpers/nats-server.js';

const dir = tempDir('nats-tls');
const openssl = (...args: string[]): string => execFileSync(requireBinary('openssl'), args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let nats: NatsServer;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fleet-ca');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'nats.key', '-out', 'nats.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'nats.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'nats.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'nats.crt', '-extfile', 'nats.ext');
  nats = await NatsServer.start({ args: ['--tls', '--tlscert', join(dir, 'nats.crt'), '--tlskey', join(dir, 'nats.key'), '--user', 'edge', '--pass', 'fleet-secret-1'] });
});

afterAll(async () => {
  for (const n of nodes) {
    await n.stop();
    n.cleanup();
  }
  await nats?.cleanup();
});

async function startNode(name: string, password: string): Promise<NodeProcess> {
  const node = await NodeProcess.start({
    flags: { nats: nats.url, 'node-id': name, 'nats-user': 'edge', 'nats-tls-ca': join(dir, 'ca.crt'), 'anti-entropy-interval-ms': '1000', 'log-format': 'json' },
    // A password goes in the environment, not on the command line (ps shows command lines).
    env: { EDGEAGG_NATS_PASSWORD: password },
  });
  nodes.push(node);
  return node;
}

async function natsState(node: NodeProcess): Promise<string> {
  const fleet = (await (await node.fetch('/v1/fleet', { token: await node.token('read') })).json()) as { nats?: { state: string } };
  return fleet.nats?.state ?? 'none';
}

describe('NATS with TLS and credentials', () => {
  it('a node with the CA and the password joins the fleet and replicates; a wrong password stays out and keeps serving', async () => {
    const a = await startNode('tls-a', 'fleet-secret-1');
    const b = await startNode('tls-b', 'fleet-secret-1');
    await until(async () => (await natsState(a)) === 'connected' && (await natsState(b)) === 'connected', { timeoutMs: 20_000, message: 'both nodes connected over TLS' });
    const res = await a.postReadings({ device_id: 'tls-d', region: 'tls-fleet', temperature_c: 12.5, timestamp: Date.now() - 60_000 }, await a.token('gateway'));
    expect(res.status).toBe(200);
    const readB = await b.token('read');
    await until(async () => (await b.fetch('/v1/regions/tls-fleet', { token: readB })).status === 200, { timeoutMs: 20_000, message: 'the reading reached the other node' });

    const outsider = await startNode('tls-c', 'wrong-password');
    await until(async () => (await natsState(outsider)) === 'disconnected', { timeoutMs: 20_000, message: 'the outsider is refused' });
    const log = outsider.stdout + outsider.stderr;
    expect(log, log).toMatch(/"error":"Authorization Violation".*"msg":"NATS unreachable; retrying"/);
    const own = await outsider.postReadings({ device_id: 'tls-o', region: 'tls-alone', temperature_c: 3, timestamp: Date.now() - 60_000 }, await outsider.token('gateway'));
    expect(own.status).toBe(200);
  });
});
