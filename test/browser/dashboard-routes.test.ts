/**
 * The dashboard's static routes (src/web): content types, caching, compression, and no way out of
 * the dashboard's own files, whatever the request path says.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardRoutes } from '../../src/web/index.js';
import { ROOT } from '../helpers/guests.js';

let server: Server;
let port: number;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request: the path goes on the wire exactly as given (fetch would normalise `..` away). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const routes = createDashboardRoutes();
  // As dashboardRoutes() mounts it in the node's server: the path without the query, then a 404.
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (routes(req, res, q < 0 ? url : url.slice(0, q))) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"not_found","message":"no route"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
});

describe('dashboard routes', () => {
  it('serves the page at / with its security headers', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body.toString()).toBe(readFileSync(join(ROOT, 'web/index.html'), 'utf8'));
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toMatch(/^"[\w-]+"$/);
    expect((await get('/?x=1')).status).toBe(200);
  });

  it.each([
    ['/web/app.js', 'text/javascript; charset=utf-8'],
    ['/web/style.css', 'text/css; charset=utf-8'],
    ['/web/index.html', 'text/html; charset=utf-8'],
    ['/web/vendor/uPlot.esm.js', 'text/javascript; charset=utf-8'],
    ['/web/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(res.body.length).toBe(Number(res.headers['content-length']));
  });

  it('lets the browser cache the library for a day and revalidate the rest', async () => {
    expect((await get('/web/vendor/uPlot.esm.js')).headers['cache-control']).toBe('public, max-age=86400');
    const first = await get('/web/app.js');
    const again = await get('/web/app.js', { 'if-none-match': first.headers.etag as string });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await get('/web/app.js', { 'if-none-match': '"something-else"' })).status).toBe(200);
  });

  it('compresses for clients that accept gzip', async () => {
    const plain = await get('/web/vendor/uPlot.esm.js');
    const zipped = await get('/web/vendor/uPlot.esm.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(zipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect((await get('/web/vendor/uPlot.esm.js', { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get('/web/app.js', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const postRes = await get('/', {}, 'POST');
    expect(postRes.status).toBe(405);
    expect(postRes.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/web/../package.json',
    '/web/../../etc/passwd',
    '/web/%2e%2e/package.json',
    '/web/..%2fpackage.json',
    '/web/%2e%2e%2fpackage.json',
    '/web/vendor/../../package.json',
    '/web/vendor/../app.js',
    '/web/vendor/uPlot.cjs.js',
    '/web/vendor/package.json',
    '/web//etc/passwd',
    '/web/./app.js',
    '/web/app.js/',
    '/web/APP.JS',
    '/web/',
    '/web',
    '/web/vendor/',
    '/..%2f..%2fetc/passwd',
    '//etc/passwd',
    '/index.html',
    '/package.json',
    '/src/web/index.ts',
    '/web/\\..\\package.json',
    '/web/app.js%00.png',
  ])('does not serve %s', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('refuses to start without its page', () => {
    expect(() => createDashboardRoutes({ webRoot: join(ROOT, 'test') })).toThrow(/index\.html/);
  });
});
