/**
 * The routes every node answers whatever apps it hosts: liveness, readiness, the node's own state,
 * its view of the fleet, and the Prometheus scrape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken } from './auth.js';
import { sendError, sendJson } from './respond.js';
import type { Route } from './router.js';

const READ_SCOPES = ['read', 'admin'] as const;

export interface NodeRoutesOptions {
  /** The node's state and counters for `GET /v1/node` (the dashboard's health panel). */
  nodeInfo: () => unknown;
  /** The fleet as this node sees it, for `GET /v1/fleet` (docs/replication.md). */
  fleetInfo: () => unknown;
  /** Readiness and its details for `/readyz`: 200 when ready, else 503. */
  readiness: () => { ready: boolean; [detail: string]: unknown };
  /** `GET /metrics` on the node's own port. @default none: 404 */
  metrics?: MetricsRouteOptions;
}

export function nodeRoutes(options: NodeRoutesOptions): Route[] {
  const routes: Route[] = [
    { method: 'GET', template: '/healthz', scopes: [], handle: (ctx) => sendJson(ctx.res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      template: '/readyz',
      scopes: [],
      handle: (ctx) => {
        const r = options.readiness();
        sendJson(ctx.res, r.ready ? 200 : 503, r);
      },
    },
    { method: 'GET', template: '/v1/node', scopes: READ_SCOPES, handle: (ctx) => sendJson(ctx.res, 200, options.nodeInfo()) },
    { method: 'GET', template: '/v1/fleet', scopes: READ_SCOPES, handle: (ctx) => sendJson(ctx.res, 200, options.fleetInfo()) },
  ];
  if (options.metrics) routes.push(metricsRoute(options.metrics));
  return routes;
}

export interface MetricsRouteOptions {
  /** Writes the Prometheus text exposition (src/telemetry); undefined when metrics are disabled. */
  serve: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** A bearer token the scrape must send; empty: none. The metrics token is not a JWT. @default '' */
  token?: string;
}

/** `GET /metrics`: Prometheus scrapes it; with a metrics token, only `Authorization: Bearer <token>` is answered. */
export function metricsRoute(options: MetricsRouteOptions): Route {
  const tokenHash = options.token ? sha256(options.token) : undefined;
  return {
    method: 'GET',
    template: '/metrics',
    scopes: [],
    handle: (ctx) => {
      if (!options.serve) {
        sendError(ctx.res, 404, 'not_found', 'metrics are disabled (OTEL_SDK_DISABLED=true)');
        return;
      }
      if (tokenHash) {
        const token = bearerToken(ctx.req, '');
        // Compared as hashes: equal lengths, and no timing that tells how much of the token was right.
        if (token === undefined || !timingSafeEqual(sha256(token), tokenHash)) {
          sendError(ctx.res, 401, 'unauthorized', 'this endpoint needs the metrics token: send "Authorization: Bearer <metrics-token>"', {
            'www-authenticate': 'Bearer realm="metrics"',
          });
          return;
        }
      }
      ctx.res.setHeader('cache-control', 'no-store');
      options.serve(ctx.req, ctx.res);
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
