/**
 * The routes every node answers whatever apps it hosts: liveness, readiness, the node's own state,
 * its view of the fleet, and the Prometheus scrape.
 */
import { bearerToken } from './auth.js';
import { sendBody, sendError, sendJson } from './respond.js';
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
  /** The Prometheus text exposition (src/telemetry); rejects when metrics are disabled. */
  render: () => Promise<{ contentType: string; body: string }>;
  /** Whether a scrape with this bearer token (undefined: none sent) is answered. */
  accepts: (token: string | undefined) => boolean;
}

/** `GET /metrics`: Prometheus scrapes it; with a metrics token, only `Authorization: Bearer <token>` is answered. */
export function metricsRoute(options: MetricsRouteOptions): Route {
  return {
    method: 'GET',
    template: '/metrics',
    scopes: [],
    handle: async (ctx) => {
      // The header only: a metrics token is never taken from the query (it would end up in logs).
      if (!options.accepts(bearerToken(ctx.req, ''))) {
        sendError(ctx.res, 401, 'unauthorized', 'this endpoint needs the metrics token: send "Authorization: Bearer <metrics-token>"', {
          'www-authenticate': 'Bearer realm="metrics"',
        });
        return;
      }
      let text: { contentType: string; body: string };
      try {
        text = await options.render();
      } catch (error) {
        sendError(ctx.res, 404, 'not_found', error instanceof Error ? error.message : String(error));
        return;
      }
      sendBody(ctx.res, 200, text.contentType, text.body);
    },
  };
}
