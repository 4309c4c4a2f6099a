/** The HTTP server, routes as data, request bodies, answers and auth: the public face of src/http. */
export { createEdgeServer, listen, serverUrl, type EdgeServerOptions, type RequestObserver } from './server.js';
export { Router, type Route, type RequestContext, type Principal, type RouteMatch } from './router.js';
export { nodeRoutes, metricsRoute, type NodeRoutesOptions, type MetricsRouteOptions } from './node-routes.js';
export { BodyTooLargeError, BodyTooSlowError, BodyBudgetError, ClientAbortError, readBody, mediaType, type ReadBodyOptions } from './body.js';
export { sendBody, sendCallFailure, sendError, sendGuestFailure, sendJson, RETRY_AFTER_SECONDS } from './respond.js';
export { shed, sendOverloaded, sendRateLimited, countObjects, ClientRateLimits, type ClientRateLimitsOptions, type RateLimit } from './limits.js';
export { authenticate, bearerToken } from './auth.js';
export { certificateDevice, readTls, watchTls, type TlsFiles } from './tls.js';
