/**
 * The dashboard's static files: `/` (web/index.html), `/web/*` (the rest of web/) and
 * `/web/vendor/*` (uPlot, served from node_modules so there is no copy to keep in step).
 *
 * Every file is read, hashed and gzipped once, when the routes are created: the dashboard is a few
 * tens of kilobytes, and a fixed table of names makes directory traversal impossible by construction
 * (a request path is only ever looked up, never joined to a directory).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sendError, type Route } from '../http/index.js';

export interface DashboardRoutesOptions {
  /** The directory holding index.html and the dashboard's modules. @default the package's `web/` */
  webRoot?: string;
  /** The directory holding `uPlot.esm.js` and `uPlot.min.css`. @default `uplot/dist` from node_modules */
  uplotDir?: string;
}

/** Handles a request if `path` is a dashboard file; false for any other path (the caller answers 404). */
export type DashboardRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  contentType: string;
  etag: string;
  cacheControl: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

const VENDOR_FILES = ['uPlot.esm.js', 'uPlot.min.css'];

// The page's own files change with the node's version: revalidate every time (a 304 is cheap).
// The vendored library changes only with a dependency update.
const OWN_CACHE = 'no-cache';
const VENDOR_CACHE = 'public, max-age=86400';

// uPlot writes element styles from script (CSSOM), which a style-src without 'unsafe-inline' allows;
// the page itself has no inline script or style.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function createDashboardRoutes(options: DashboardRoutesOptions = {}): DashboardRoutes {
  const webRoot = options.webRoot ?? defaultWebRoot();
  const uplotDir = options.uplotDir ?? dirname(createRequire(import.meta.url).resolve('uplot'));
  const assets = new Map<string, Asset>();

  for (const name of listFiles(webRoot)) {
    const type = CONTENT_TYPES[extname(name)];
    if (!type || name.startsWith('vendor/')) continue;
    const asset = makeAsset(readFileSync(join(webRoot, name)), type, OWN_CACHE);
    assets.set(`/web/${name}`, asset);
    if (name === 'index.html') assets.set('/', asset);
  }
  if (!assets.has('/')) throw new Error(`no dashboard at ${webRoot}: index.html is missing`);
  for (const name of VENDOR_FILES) {
    assets.set(`/web/vendor/${name}`, makeAsset(readFileSync(join(uplotDir, name)), CONTENT_TYPES[extname(name)]!, VENDOR_CACHE));
  }

  return (req, res, path) => {
    const asset = assets.get(path);
    if (!asset) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' });
      res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: `${req.method} is not allowed on ${path}` } }));
      return true;
    }
    const gzip = asset.gzip !== undefined && acceptsGzip(req.headers['accept-encoding']);
    // Each representation has its own validator (RFC 9110 §8.8.3): the gzipped bytes are not the plain ones.
    const etag = gzip ? `${asset.etag.slice(0, -1)}-gz"` : asset.etag;
    const headers: Record<string, string | number> = {
      ...SECURITY_HEADERS,
      'content-type': asset.contentType,
      'cache-control': asset.cacheControl,
      etag,
      vary: 'accept-encoding',
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const body = gzip ? asset.gzip! : asset.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/**
 * The dashboard as routes for the node's server: `/` and every file under `/web/` (an unknown file is
 * 404, like any unknown path).
 */
export function dashboardRoutes(options: DashboardRoutesOptions = {}): Route[] {
  const serve = createDashboardRoutes(options);
  const handle: Route['handle'] = (ctx) => {
    if (!serve(ctx.req, ctx.res, ctx.path)) sendError(ctx.res, 404, 'not_found', `no route for ${ctx.path}`);
  };
  return [
    { method: 'GET', template: '/', scopes: [], handle },
    { method: 'GET', template: '/web/*', scopes: [], handle },
  ];
}

/** The package's `web/`: found by walking up from this file (it runs from src/ in tests, from dist/src/ when built). */
function defaultWebRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'web');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the dashboard files (web/index.html) were not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Relative paths of the regular files under `root`, with `/` separators; dot files are skipped. */
function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, prefix), { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else if (entry.isFile() || (entry.isSymbolicLink() && statSync(join(root, rel)).isFile())) out.push(rel);
  }
  return out;
}

function makeAsset(body: Buffer, contentType: string, cacheControl: string): Asset {
  const compressible = /^(text\/|application\/(json|manifest)|image\/svg)/.test(contentType);
  const gzip = compressible && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, gzip: gzip && gzip.length < body.length ? gzip : undefined, contentType, etag, cacheControl };
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  // A weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : header ?? '';
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
