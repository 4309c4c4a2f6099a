/**
 * The node's HTTP server, on node:http directly: the request path is the product's hot path (a
 * framework's request/response adaptation would cost more than the routing it saves). It knows no
 * route of its own: apps and the node hand it routes as data (src/http/router.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, Server as HttpsServer } from 'node:https';
import type { TokenVerifier } from '../auth/index.js';
import { authenticate } from './auth.js';
import { sendError } from './respond.js';
import { Router, type Route } from './router.js';
import { readTls, type TlsFiles } from './tls.js';

export interface EdgeServerOptions {
  /** Every route the server answers; anything else is 404 `not_found`. */
  routes: Iterable<Route>;
  /** Token verification; undefined turns authentication off. */
  verifier: TokenVerifier | undefined;
  /** HTTPS with these files (and client certificates for devices with a client CA). @default plain HTTP */
  tls?: TlsFiles;
  /** Time allowed for a client to send the request headers, in ms. @default 10000 */
  headersTimeoutMs?: number;
  /** Time allowed for the whole request (headers and body), in ms. @default 30000 */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed, in ms. @default 60000 */
  idleTimeoutMs?: number;
  /** Log of failures the client cannot see the cause of; `res` names the request. @default console.error */
  onError?: (error: unknown, context: string, res?: ServerResponse) => void;
  /** Metrics, traces and request ids per request (src/telemetry). @default none */
  observer?: RequestObserver;
  /**
   * Largest request body in bytes the routes accept: a request that declares more and asks for
   * `100 Continue` is answered 413 at once, so the client never sends it. @default no early answer
   */
  bodyLimit?: number;
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

export function createEdgeServer(options: EdgeServerOptions): Server {
  const router = new Router(options.routes);
  const onError = options.onError ?? ((error: unknown, context: string) => console.error(context, error));
  const { observer, verifier } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const scope = observer?.begin(req, res);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const match = router.match(path);
    if (!match) {
      sendError(res, 404, 'not_found', `no route for ${path}`);
      return;
    }
    observer?.route(scope, match.template);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = match.routes.find((r) => r.method === method);
    if (!route) {
      sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}`, { allow: match.routes.map((r) => r.method).join(', ') });
      return;
    }
    const principal = await authenticate(req, res, query, route, verifier);
    if (!principal) return;
    if (!acceptableEncoding(req, res)) return;
    await route.handle({ req, res, path, query, principal, scope });
  };

  const serverOptions = {
    keepAliveTimeout: 5_000,
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // How often the two timeouts above are checked (Node's default is every 30 s).
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs ?? 10_000),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      onError(error, 'request failed', res);
      sendError(res, 500, 'internal_error', 'internal error; nothing of this request was stored');
    });
  };
  const server: Server = options.tls ? createTlsServer({ ...serverOptions, ...readTls(options.tls) }, onRequest) : createServer(serverOptions, onRequest);
  // With a listener, node:http no longer sends `100 Continue` by itself: a body that would be refused is
  // refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (options.bodyLimit !== undefined && Number.isFinite(declared) && declared > options.bodyLimit) {
      // Observed like any request (its metrics, its x-request-id), though it never reaches the routes.
      observer?.begin(req, res);
      sendError(res, 413, 'body_too_large', `the request body is larger than ${options.bodyLimit} bytes; split the batch`, { connection: 'close' });
      return;
    }
    if (!hasIdentityEncoding(req)) {
      observer?.begin(req, res);
      refuseEncoding(req, res);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  // A connection with no traffic at all for this long is closed (idle keep-alive, stuck clients).
  server.setTimeout(options.idleTimeoutMs ?? 60_000, (socket) => socket.destroy());
  return server;
}

/** Bodies are read as sent: a compressed one would be taken for its bytes, so it is refused. */
function acceptableEncoding(req: IncomingMessage, res: ServerResponse): boolean {
  if (hasIdentityEncoding(req)) return true;
  refuseEncoding(req, res);
  return false;
}

/** True unless the request has a body in an encoding other than `identity` (a GET's stray header is harmless). */
function hasIdentityEncoding(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  const body = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!body) return true;
  return encoding === undefined || encoding.split(',').every((e) => e.trim().toLowerCase() === 'identity' || e.trim() === '');
}

function refuseEncoding(req: IncomingMessage, res: ServerResponse): void {
  sendError(res, 415, 'unsupported_encoding', `Content-Encoding ${JSON.stringify(req.headers['content-encoding'])} is not supported: send the body uncompressed`, {
    'accept-encoding': 'identity',
  });
}

/**
 * Connections the kernel may queue before the node accepts them. Node's default (511) overflows when every
 * device of a gateway reconnects at once (after a restart): the dropped connections retry only after a second
 * (measured: 500 devices connecting within a second, p99 1.4 s). The kernel caps it at `net.core.somaxconn`.
 */
const LISTEN_BACKLOG = 4096;

/** Starts listening; resolves once the port is bound (or rejects with the listen error). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
}

/** `http://host:port` (or `https://`) of a listening server. */
export function serverUrl(server: Server): string {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on a TCP port');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${server instanceof HttpsServer ? 'https' : 'http'}://${host}:${address.port}`;
}
