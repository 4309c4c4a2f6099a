/**
 * HTTPS on the node (issue 16, "TLS, as the article asks"): a certificate from files, reloaded when the files
 * change without dropping open connections, and client certificates for devices (mutual TLS), the subject CN
 * being the device id. Certificates are made by the test with openssl, signed by a CA it makes too.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { NodeProcess } from '../helpers/node-process.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';

const dir = tempDir('tls');
const openssl = (...args: string[]): string => execFileSync(requireBinary('openssl'), args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A key and a certificate for `cn` signed by `ca` (or self-signed when `ca` is undefined). */
function certificate(name: string, cn: string, ca?: string, serverName = false): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, serverName ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : 'extendedKeyUsage=clientAuth\n');
  if (ca) openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', ext);
  else openssl('x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', '2', '-out', `${name}.crt`, '-extfile', ext);
}

function caCertificate(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
}

interface Answer {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the node presented. */
  fingerprint: string;
}

let node: NodeProcess;
let port: number;
const ca = (): Buffer => readFileSync(join(dir, 'ca.crt'));

function call(path: string, options: RequestOptions & { body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: ca(), servername: 'localhost', ...options }, (res) => {
      // Read now: the socket is detached from the response once it ends (and may go back to the agent).
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const reading = (device: string) => JSON.stringify({ device_id: device, region: 'tls-lab', temperature_c: 21, timestamp: Date.now() - 60_000 });
const post = { method: 'POST', path: '/v1/readings', headers: { 'content-type': 'application/json' } };

beforeAll(async () => {
  caCertificate('ca');
  caCertificate('rogue-ca');
  certificate('server', 'localhost', 'ca', true);
  certificate('sensor', 'sensor-tls-1', 'ca');
  certificate('intruder', 'sensor-tls-1', 'rogue-ca');
  node = await NodeProcess.start({ flags: { 'tls-cert': join(dir, 'server.crt'), 'tls-key': join(dir, 'server.key'), 'tls-client-ca': join(dir, 'ca.crt') } });
  expect(node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  port = Number(new URL(node.url).port);
});

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

describe('HTTPS', () => {
  it('serves over TLS with the configured certificate, and not over plain HTTP', async () => {
    expect((await call('/healthz')).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('lets a device in with a client certificate the client CA signed: the subject CN is its device id', async () => {
    const cert = readFileSync(join(dir, 'sensor.crt'));
    const key = readFileSync(join(dir, 'sensor.key'));
    const own = await call(post.path, { ...post, cert, key, body: reading('sensor-tls-1') });
    expect(own.status, own.body).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ accepted: 1 });
    // Its certificate names one device: it cannot post for another.
    const other = await call(post.path, { ...post, cert, key, body: reading('sensor-tls-2') });
    expect(JSON.parse(other.body).results[0].error.code).toBe('device_mismatch');
    // A certificate identifies a device, nothing more: reads still need a read token.
    expect((await call('/v1/regions', { cert, key })).status).toBe(401);
  });

  it('refuses a client certificate signed by another CA, and still takes tokens without one', async () => {
    const intruder = await call(post.path, { ...post, cert: readFileSync(join(dir, 'intruder.crt')), key: readFileSync(join(dir, 'intruder.key')), body: reading('sensor-tls-1') });
    expect(intruder.status).toBe(401);
    const gateway = await node.token('gateway');
    const withToken = await call(post.path, { ...post, headers: { ...post.headers, authorization: `Bearer ${gateway}` }, body: reading('sensor-tls-3') });
    expect(withToken.status).toBe(200);
  });

  it('reloads a renewed certificate for new connections without dropping an open one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await call('/healthz', { agent });
    // A renewal as certificate tools do it: new files written beside, then renamed over the old ones.
    certificate('renewed', 'localhost', 'ca', true);
    copyFileSync(join(dir, 'renewed.key'), join(dir, 'server.key.new'));
    copyFileSync(join(dir, 'renewed.crt'), join(dir, 'server.crt.new'));
    renameSync(join(dir, 'server.key.new'), join(dir, 'server.key'));
    renameSync(join(dir, 'server.crt.new'), join(dir, 'server.crt'));
    let fresh: Answer | undefined;
    await until(
      async () => {
        fresh = await call('/healthz', { agent: false });
        return fresh.fingerprint !== before.fingerprint;
      },
      { timeoutMs: 15_000, intervalMs: 250, message: 'new connections got the renewed certificate' },
    );
    // The connection opened before the renewal still answers, on its old certificate.
    const old = await call('/healthz', { agent });
    expect(old.status).toBe(200);
    expect(old.fingerprint).toBe(before.fingerprint);
    agent.destroy();
    expect(node.stdout + node.stderr).toMatch(/TLS certificate reloaded/);
  });
});
