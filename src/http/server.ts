/**
 * The node's HTTP server, on node:http directly: the API has a handful of routes, and the request
 * path is the product's hot path (a framework's request/response adaptation would cost more than
 * the routing it saves).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Scope, TokenVerifier } from '../auth/tokens.js';
import { TokenError } from '../auth/tokens.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { GuestCallError, type GuestHttpRequest, type GuestModule, type PrincipalKind } from '../runtime/index.js';
import { BodyTooLargeError, readBody } from './body.js';
import type { RegionStream } from './region-stream.js';
import { CircuitOpenError, type LoadShedder, type StoreBreaker } from '../resilience/index.js';
import { sendBody, sendError, sendGuestFailure, sendJson } from './respond.js';

export interface EdgeServerOptions {
  /** The aggregator module: it answers the API's routes. */
  module: () => GuestModule;
  pipeline: () => IngestPipeline;
  stream: RegionStream;
  /** Token verification; undefined turns authentication off. */
  verifier: TokenVerifier | undefined;
  /** Largest request body in bytes. @default 1048576 */
  bodyLimit?: number;
  /** The circuit breaker around the store: reads and writes go through it. */
  breaker: StoreBreaker;
  /** The bound on API requests in flight. */
  shedder: LoadShedder;
  /** Time allowed for a client to send the request headers, in ms. @default 10000 */
  headersTimeoutMs?: number;
  /** Time allowed for the whole request (headers and body), in ms. @default 30000 */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed, in ms. @default 60000 */
  idleTimeoutMs?: number;
  /** The node's state and counters for `GET /v1/node` (the dashboard's health panel). */
  nodeInfo: () => unknown;
  /** The fleet as this node sees it, for `GET /v1/fleet` (docs/replication.md). @default none: 404 */
  fleetInfo?: () => unknown;
  /** Readiness and its details for `/readyz`. */
  readiness: () => { ready: boolean; [detail: string]: unknown };
  /** Extra routes (the dashboard, metrics), tried before the 404. Return true when handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
  /** Log of failures the client cannot see the cause of; `res` names the request. @default console.error */
  onError?: (error: unknown, context: string, res?: ServerResponse) => void;
  /** Metrics, traces and request ids per request (src/telemetry). @default none */
  observer?: RequestObserver;
  /** `GET /metrics` (src/telemetry: Prometheus text; it checks its own token). @default none: 404 */
  metrics?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Observes every request (src/telemetry implements it). The server only says when a request starts,
 * which route template it matched, and runs its synchronous guest calls through `run`; the scope is
 * opaque here and goes to the write path with the request.
 */
export interface RequestObserver {
  /** A request arrived; the returned scope is its telemetry (the end is seen on the response). */
  begin(req: IncomingMessage, res: ServerResponse): unknown;
  /** The route template it matched, e.g. `/v1/regions/{region}`: never the raw path. */
  route(scope: unknown, template: string): void;
  /** Runs a guest call of the request. */
  run<T>(scope: unknown, fn: () => T): T;
}

interface Route {
  method: string;
  /** Scopes allowed; empty: no authentication. */
  scopes: readonly Scope[];
  handle: (ctx: RequestContext) => Promise<void> | void;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: string;
  principal: { kind: PrincipalKind; subject: string };
  /** The request's telemetry scope (RequestObserver.begin), if observed. */
  scope: unknown;
}

const WRITE_SCOPES = ['device', 'gateway', 'admin'] as const;
const READ_SCOPES = ['read', 'admin'] as const;

export function createEdgeServer(options: EdgeServerOptions): Server {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  const onError = options.onError ?? ((error: unknown, context: string) => console.error(context, error));
  const observer = options.observer;

  const guestRequest = (ctx: RequestContext, contentType: string, body: Uint8Array): GuestHttpRequest => ({
    method: ctx.req.method ?? 'GET',
    path: ctx.path,
    query: ctx.query,
    contentType,
    principal: ctx.principal,
    body,
  });

  const ingest = async (ctx: RequestContext): Promise<void> => {
    const contentType = mediaType(ctx.req.headers['content-type']);
    let body: Buffer;
    try {
      body = await readBody(ctx.req, bodyLimit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendError(ctx.res, 413, 'body_too_large', `${error.message}; split the batch`);
        return;
      }
      throw error;
    }
    try {
      const result = await options.breaker.run(() => options.pipeline().submit(guestRequest(ctx, contentType, body), ctx.scope));
      sendBody(ctx.res, result.status, result.contentType || 'application/json', result.body);
    } catch (error) {
      sendFailure(ctx.res, error, 'ingest failed');
    }
  };

  const query = async (ctx: RequestContext): Promise<void> => {
    try {
      // Aggregates are read only after every committed reading is folded into them.
      const call = () => options.pipeline().read(() => options.module().invokeHttp(guestRequest(ctx, '', new Uint8Array(0))));
      const result = await options.breaker.run(() => (observer ? observer.run(ctx.scope, call) : call()));
      sendBody(ctx.res, result.status, result.contentType || 'application/json', result.body);
    } catch (error) {
      sendFailure(ctx.res, error, 'query failed');
    }
  };

  const sendFailure = (res: ServerResponse, error: unknown, context: string): void => {
    if (error instanceof CircuitOpenError) {
      sendError(res, 503, error.code, `${error.message}; retry later`, { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) });
      return;
    }
    sendGuestFailure(res, error);
    if (!isExpected(error)) onError(error, context, res);
  };

  /** API work is bounded; past the bound a request is refused before anything is read. */
  const shed = (handle: (ctx: RequestContext) => Promise<void>) => async (ctx: RequestContext): Promise<void> => {
    if (!options.shedder.tryAcquire()) {
      sendError(ctx.res, 503, 'overloaded', 'the node is at capacity; retry later', { 'retry-after': '1', connection: 'close' });
      ctx.req.resume();
      return;
    }
    try {
      await handle(ctx);
    } finally {
      options.shedder.release();
    }
  };

  const routes: Array<{ match: (path: string) => boolean; routes: Route[] }> = [
    { match: (p) => p === '/v1/readings', routes: [{ method: 'POST', scopes: WRITE_SCOPES, handle: shed(ingest) }] },
    { match: (p) => p === '/v1/regions' || p.startsWith('/v1/regions/'), routes: [{ method: 'GET', scopes: READ_SCOPES, handle: shed(query) }] },
    { match: (p) => p === '/v1/node', routes: [{ method: 'GET', scopes: READ_SCOPES, handle: (ctx) => sendJson(ctx.res, 200, options.nodeInfo()) }] },
    { match: (p) => p === '/v1/fleet', routes: [{ method: 'GET', scopes: READ_SCOPES, handle: (ctx) => (options.fleetInfo ? sendJson(ctx.res, 200, options.fleetInfo()) : sendError(ctx.res, 404, 'not_found', 'this node has no fleet view')) }] },
    { match: (p) => p === '/v1/stream', routes: [{ method: 'GET', scopes: READ_SCOPES, handle: (ctx) => options.stream.open(ctx.req, ctx.res) }] },
    { match: (p) => p === '/healthz', routes: [{ method: 'GET', scopes: [], handle: (ctx) => sendJson(ctx.res, 200, { status: 'ok' }) }] },
    {
      match: (p) => p === '/readyz',
      routes: [
        {
          method: 'GET',
          scopes: [],
          handle: (ctx) => {
            const r = options.readiness();
            sendJson(ctx.res, r.ready ? 200 : 503, r);
          },
        },
      ],
    },
  ];

  // Prometheus scrapes this (src/telemetry); it answers 401 itself when a metrics token is set.
  const metrics = options.metrics;
  if (metrics) routes.push({ match: (p) => p === '/metrics', routes: [{ method: 'GET', scopes: [], handle: (ctx) => metrics(ctx.req, ctx.res) }] });

  const authenticate = async (req: IncomingMessage, query: string, scopes: readonly Scope[], res: ServerResponse): Promise<RequestContext['principal'] | undefined> => {
    if (scopes.length === 0) return { kind: 'anonymous', subject: '' };
    if (!options.verifier) return { kind: scopes[0] === 'device' ? 'gateway' : scopes[0]!, subject: '' };
    const token = bearerToken(req, query);
    if (!token) {
      sendError(res, 401, 'unauthorized', 'missing token: send "Authorization: Bearer <token>" (create one with `edgeagg token create`)', {
        'www-authenticate': 'Bearer',
      });
      return undefined;
    }
    try {
      const principal = await options.verifier.verify(token);
      if (!scopes.includes(principal.scope)) {
        sendError(res, 403, 'forbidden', `a ${principal.scope} token cannot do this; it needs one of: ${scopes.join(', ')}`);
        return undefined;
      }
      return { kind: principal.scope, subject: principal.subject };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      sendError(res, 401, 'unauthorized', error.message, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return undefined;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const scope = observer?.begin(req, res);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const entry = routes.find((r) => r.match(path));
    if (!entry) {
      if (options.extraRoutes?.(req, res, path)) {
        observer?.route(scope, extraRouteTemplate(path));
        return;
      }
      sendError(res, 404, 'not_found', `no route for ${path}`);
      return;
    }
    observer?.route(scope, routeTemplate(path));
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = entry.routes.find((r) => r.method === method);
    if (!route) {
      sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}`, { allow: entry.routes.map((r) => r.method).join(', ') });
      return;
    }
    const principal = await authenticate(req, query, route.scopes, res);
    if (!principal) return;
    await route.handle({ req, res, path, query, principal, scope });
  };

  const server = createServer(
    {
      keepAliveTimeout: 5_000,
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      // How often the two timeouts above are checked (Node's default is every 30 s).
      connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs ?? 10_000),
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        onError(error, 'request failed', res);
        sendError(res, 500, 'internal_error', 'internal error; nothing of this request was stored');
      });
    },
  );
  // A connection with no traffic at all for this long is closed (idle keep-alive, stuck clients).
  server.setTimeout(options.idleTimeoutMs ?? 60_000, (socket) => socket.destroy());
  return server;
}

/**
 * The route template of a path the routes table matched, for metrics and spans: a label must stay
 * low-cardinality, so never the raw path. Every route is a fixed path except `/v1/regions/...`.
 */
function routeTemplate(path: string): string {
  if (!path.startsWith('/v1/regions/')) return path;
  const rest = path.slice('/v1/regions/'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return '/v1/regions/{region}';
  return rest.slice(slash) === '/series' ? '/v1/regions/{region}/series' : '/v1/regions/{region}/*';
}

/** The template of a path an extra route (the dashboard's files) answered. */
function extraRouteTemplate(path: string): string {
  if (path === '/' || path === '/index.html') return path;
  const slash = path.indexOf('/', 1);
  return slash < 0 ? path : `${path.slice(0, slash)}/*`;
}

/** `Authorization: Bearer`, or `access_token` in the query for EventSource, which cannot set headers. */
function bearerToken(req: IncomingMessage, query: string): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }
  if (query.includes('access_token=')) {
    const token = new URLSearchParams(query).get('access_token');
    if (token) return token;
  }
  return undefined;
}

function mediaType(header: string | undefined): string {
  if (!header) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** A guest's failure is answered with its own code; anything else is a host bug worth logging. */
function isExpected(error: unknown): boolean {
  return error instanceof GuestCallError;
}
