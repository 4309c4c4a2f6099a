/**
 * The HTTP server's per-request hook (src/http `RequestObserver`): a request id on every response, the
 * `http.server.request.duration` histogram by route template, the server span when tracing, and the
 * request's log line.
 *
 * Cost, by design: with tracing off (the default) a request costs one small object, a response header
 * and one histogram record; no span, context or closure is made.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import type { HistogramCell } from './bound-histogram.js';
import { requestLogFields, type Logger, type NodeLogger } from './logger.js';
import type { NodeMetrics } from './metrics.js';
import { extractFromHttpHeaders } from './propagation.js';
import { redactText } from './redact.js';
import { RequestScope, currentScope, runInScope } from './scope.js';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** Beyond this many distinct routes, new ones are recorded as `_OTHER` (a label must stay low-cardinality). */
const MAX_ROUTES = 64;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SCOPE = Symbol('edgeagg.telemetry.scope');

type ScopedResponse = ServerResponse & { [SCOPE]?: RequestScope };

export class HttpObserver {
  private readonly idPrefix = randomBytes(4).toString('hex');
  private sequence = 0;
  private readonly routes = new Set<string>();
  /** The duration cell of the last request's (method, route, status, aborted): most requests share it. */
  private lastHttp: { method: string; route: string | undefined; status: number | undefined; aborted: boolean; cell: HistogramCell | undefined } | undefined;

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly tracer: Tracer | undefined,
    private readonly logger: Logger & Partial<Pick<NodeLogger, 'isLevelEnabled'>>,
  ) {}

  /** A request arrived: its scope, which the server hands back to `route` and `run`. */
  begin(req: IncomingMessage, res: ServerResponse): RequestScope {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `${this.idPrefix}-${(++this.sequence).toString(36)}`;
    const method = req.method && HTTP_METHODS.has(req.method) ? req.method : '_OTHER';
    const scope = new RequestScope(id, method);
    // Sent with the response's own writeHead call, not set here with res.setHeader: a header set before
    // writeHead sends node:http down its slow path (every header of writeHead set one by one), 2.5% of a
    // single reading's CPU (bench/probe.js, paired runs).
    res.writeHead = writeHeadWithRequestId;
    if (this.tracer) {
      const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : extractFromHttpHeaders(req.headers);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      // The path only: the query may hold an access_token.
      const path = redactText(q < 0 ? url : url.slice(0, q));
      // The attributes a sampler may look at; the rest only on spans that are recorded.
      const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'url.scheme': 'http' } }, parent);
      if (span.isRecording()) {
        span.setAttributes({
          'network.protocol.version': req.httpVersion,
          'client.address': req.socket.remoteAddress ?? '',
          'user_agent.original': req.headers['user-agent'] ?? '',
          'http.request.header.x-request-id': id,
        });
        scope.span = span;
      }
    }
    (res as ScopedResponse)[SCOPE] = scope;
    res.on('close', this.onResponseClose);
    return scope;
  }

  /** The route template the request matched, e.g. `/v1/regions/{region}`. */
  route(scope: unknown, template: string): void {
    if (scope instanceof RequestScope) scope.route = template;
  }

  /** Runs a synchronous guest call of the request with the request current. */
  run<T>(scope: unknown, fn: () => T): T {
    return scope instanceof RequestScope ? runInScope(scope, fn) : fn();
  }

  /** Request ids (and trace ids) for a log line written about a request after an `await`. */
  logFields(res: ServerResponse | undefined): Record<string, string> {
    const scope = res ? (res as ScopedResponse)[SCOPE] : currentScope();
    return scope ? requestLogFields(scope) : {};
  }

  /** One listener for every response (no closure per request): `this` is the response. */
  private readonly onResponseClose = ((observer: HttpObserver) =>
    function (this: ScopedResponse): void {
      observer.end(this);
    })(this);

  private end(res: ScopedResponse): void {
    const scope = res[SCOPE];
    if (!scope) return;
    const durationMs = performance.now() - scope.startedAt;
    // Closed before the response was complete: the client went away (no status was sent, or not all of it).
    const aborted = !res.writableFinished;
    const status = res.headersSent ? res.statusCode : undefined;
    const route = scope.route === undefined ? undefined : this.boundedRoute(scope.route);
    const h = this.metrics.histograms.httpDuration;
    const last = this.lastHttp;
    let cell: HistogramCell | undefined;
    if (last && last.method === scope.method && last.route === route && last.status === status && last.aborted === aborted) cell = last.cell;
    else {
      cell = h.bind(`${scope.method} ${route ?? ''} ${status ?? ''} ${aborted ? 1 : 0}`, () => httpAttributes(scope.method, route, status, aborted));
      this.lastHttp = { method: scope.method, route, status, aborted, cell };
    }
    h.record(cell, durationMs / 1000);
    const span = scope.span;
    if (span) {
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${scope.method} ${route}`);
      }
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (aborted) span.setAttribute('error.type', 'aborted');
      if (aborted || (status !== undefined && status >= 500)) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    // 503s are transient and counted (overloaded, circuit_open, store_busy): not one warning each.
    const failed = status !== undefined && status >= 500 && status !== 503;
    if (failed || this.logger.isLevelEnabled?.('debug')) {
      const url = res.req?.url ?? '';
      const q = url.indexOf('?');
      const fields = {
        ...requestLogFields(scope),
        method: scope.method,
        path: q < 0 ? url : url.slice(0, q),
        route,
        status,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        ...(aborted ? { aborted: true } : {}),
      };
      if (failed) this.logger.warn('request failed', fields);
      else this.logger.debug('request', fields);
    }
  }

  private boundedRoute(route: string): string {
    if (this.routes.has(route)) return route;
    if (this.routes.size >= MAX_ROUTES) return '_OTHER';
    this.routes.add(route);
    return route;
  }
}

function httpAttributes(method: string, route: string | undefined, status: number | undefined, aborted: boolean): Attributes {
  const attrs: Attributes = { 'http.request.method': method, 'url.scheme': 'http' };
  if (route !== undefined) attrs['http.route'] = route;
  if (status !== undefined) attrs['http.response.status_code'] = status;
  if (aborted) attrs['error.type'] = 'aborted';
  else if (status !== undefined && status >= 500) attrs['error.type'] = String(status);
  return attrs;
}

const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, statusCode: number, a?: unknown, b?: unknown) => ServerResponse;

/**
 * `ServerResponse.writeHead` that adds `x-request-id` (the request's scope id) to the headers it is given
 * (`writeHead(status[, reason][, headers])`), copying them: callers may pass a shared object.
 */
function writeHeadWithRequestId(this: ScopedResponse, statusCode: number, a?: unknown, b?: unknown): ServerResponse {
  const id = this[SCOPE]?.requestId;
  if (id === undefined || this.hasHeader('x-request-id')) return writeHead.call(this, statusCode, a, b);
  if (typeof a === 'string') return writeHead.call(this, statusCode, a, headersWithId(this, b, id));
  return writeHead.call(this, statusCode, headersWithId(this, a, id));
}

/** A copy of writeHead's `headers` with the request id (or, for the array form, the id set on `res`). */
function headersWithId(res: ServerResponse, headers: unknown, id: string): unknown {
  if (headers === undefined) return { 'x-request-id': id };
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) return { 'x-request-id': id, ...headers };
  res.setHeader('x-request-id', id);
  return headers;
}
