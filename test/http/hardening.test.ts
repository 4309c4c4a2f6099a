/**
 * Regression tests of issue 16 ("Hardening") over real HTTP against a real node process: tokens in URLs,
 * malformed claims, response headers, request encodings, `Expect: 100-continue`, file permissions and the
 * start banner.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, readNodeKey } from '../../src/auth/index.js';
import { NodeProcess } from '../helpers/node-process.js';

let node: NodeProcess;
// A data directory the node creates itself (so its permissions are the node's doing).
const parent = mkdtempSync(join(tmpdir(), 'edgeagg-hardening-'));
const dataDir = join(parent, 'data');
let gateway: string;
let reader: string;

const reading = () => ({ device_id: 'hard-1', region: 'hardening', temperature_c: 20, timestamp: Date.now() - 60_000 });

beforeAll(async () => {
  node = await NodeProcess.start({ dataDir, flags: { 'body-limit': '4096' } });
  [gateway, reader] = await Promise.all([node.token('gateway', 'hardening-gateway'), node.token('read', 'hardening-reader')]);
});

afterAll(async () => {
  await node?.stop();
  rmSync(parent, { recursive: true, force: true });
});

/** A token signed with the node's own key, with these claims over sane ones. */
function signed(claims: Record<string, unknown>): Promise<string> {
  const key = readNodeKey(node.dataDir);
  const nowS = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { scope: 'gateway', sub: 'x', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: nowS, exp: nowS + 3600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: key.keyId }).sign(key.privateKey);
}

/** Sends raw bytes on a new connection and returns everything the node answers until it closes or `ms` pass. */
function raw(request: string, ms = 1500): Promise<string> {
  const url = new URL(node.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, ms);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

describe('regression: ?access_token= is accepted on every endpoint including POST', () => {
  it('a token in the URL is refused on POST /v1/readings', async () => {
    const res = await node.fetch(`/v1/readings?access_token=${gateway}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reading()) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/GET \/v1\/stream only/);
  });

  it('a token in the URL is refused on the reads', async () => {
    expect((await node.fetch(`/v1/regions/hardening?access_token=${reader}`)).status).toBe(401);
  });

  it('GET /v1/stream still takes it (EventSource cannot set headers)', async () => {
    const abort = new AbortController();
    const res = await fetch(`${node.url}/v1/stream?access_token=${reader}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    abort.abort();
  });
});

describe('regression: a validly signed token whose sub is a number or object gives 500', () => {
  it.each([
    ['a number', { sub: 42 }],
    ['an object', { sub: { device: 'x' } }],
    ['empty', { sub: '' }],
  ])('sub %s is 401', async (_name, claims) => {
    const res = await node.postReadings(reading(), await signed(claims));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });
});

describe('regression: no maximum token lifetime, a future iat accepted', () => {
  it('exp = 2^53 is 401', async () => {
    expect((await node.postReadings(reading(), await signed({ exp: 2 ** 53 }))).status).toBe(401);
  });

  it('an iat an hour ahead is 401', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    expect((await node.postReadings(reading(), await signed({ iat: nowS + 3600, exp: nowS + 7200 }))).status).toBe(401);
  });

  it('an unknown kid is 401', async () => {
    const key = readNodeKey(node.dataDir);
    const token = await new SignJWT({ scope: 'gateway' }).setProtectedHeader({ alg: 'EdDSA', kid: 'retired' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('x').setIssuedAt().setExpirationTime('1h').sign(key.privateKey);
    expect((await node.postReadings(reading(), token)).status).toBe(401);
  });

  it('a token without kid (made before key ids) is still accepted', async () => {
    const key = readNodeKey(node.dataDir);
    const token = await new SignJWT({ scope: 'gateway' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('x').setIssuedAt().setExpirationTime('1h').sign(key.privateKey);
    expect((await node.postReadings(reading(), token)).status).toBe(200);
  });
});

describe('regression: API responses without X-Content-Type-Options: nosniff', () => {
  it.each([
    ['a 200', () => node.fetch('/v1/regions/hardening', { token: reader })],
    ['a 401', () => node.fetch('/v1/regions/hardening')],
    ['a 404', () => node.fetch('/nowhere')],
    ['the health check', () => node.fetch('/healthz')],
  ])('%s has it', async (_name, request) => {
    expect((await request()).headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('regression: Content-Encoding silently ignored', () => {
  it('a gzip body is refused with 415 unsupported_encoding', async () => {
    const res = await node.postReadings(reading(), gateway, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: 'unsupported_encoding' } });
  });

  it('identity is the body as sent', async () => {
    expect((await node.postReadings(reading(), gateway, { 'content-encoding': 'identity' })).status).toBe(200);
  });
});

describe('regression: 100 Continue sent before a 413', () => {
  it('a body declared over the limit is answered 413 without 100 Continue', async () => {
    const answer = await raw(
      `POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n`,
    );
    expect(answer).not.toContain('100 Continue');
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('body_too_large');
  });

  it('a body within the limit gets 100 Continue, then its answer', async () => {
    const body = JSON.stringify(reading());
    const head = `POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    const url = new URL(node.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        if (!text.includes('100 Continue') && (text + d).includes('100 Continue')) socket.write(body);
        text += d;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write(head);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });
});

describe('regression: database and key files readable by everyone', () => {
  const mode = (path: string) => statSync(path).mode & 0o777;
  it('the data directory is 0700, the database and keys 0600', () => {
    expect(mode(node.dataDir)).toBe(0o700);
    expect(mode(join(node.dataDir, 'keys'))).toBe(0o700);
    expect(mode(join(node.dataDir, 'edgeagg.db'))).toBe(0o600);
    expect(mode(join(node.dataDir, 'edgeagg.db-wal'))).toBe(0o600);
    expect(mode(join(node.dataDir, 'keys', 'node-token.key.pem'))).toBe(0o600);
    expect(mode(join(node.dataDir, 'keys', 'node-token.pub.pem'))).toBe(0o600);
  });
});

describe('regression: the read token printed on every start', () => {
  it('the first start prints the dashboard with a read token; a restart prints no token', async () => {
    expect(node.stdout).toMatch(/dashboard: http:\/\/\S+\/#token=eyJ/);
    await node.stop();
    node = await NodeProcess.start({ dataDir, flags: { 'body-limit': '4096' } });
    expect(node.stdout).toMatch(/dashboard: http:\/\/\S+\/ \(it asks for a read token: edgeagg token create --read/);
    expect(node.stdout).not.toContain('eyJ');
  });
});
