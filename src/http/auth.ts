/** Who is asking: the bearer token of a request, checked against a route's scopes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError, type Scope, type TokenVerifier } from '../auth/index.js';
import { sendError } from './respond.js';
import type { Principal } from './router.js';
import { certificateDevice } from './tls.js';

/** What a route accepts (the fields of its `Route`). */
export interface AuthRequirements {
  scopes: readonly Scope[];
  /** Whether `?access_token=` is accepted. @default false */
  queryToken?: boolean;
}

const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', subject: '' });

/**
 * The principal of a request allowed on a route with these scopes, or undefined once a 401 or 403 has
 * been sent. Without a verifier (authentication off) every request is let through with the route's
 * first scope.
 */
export async function authenticate(
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
  route: AuthRequirements,
  verifier: TokenVerifier | undefined,
): Promise<Principal | undefined> {
  const { scopes } = route;
  if (scopes.length === 0) return ANONYMOUS;
  if (!verifier) return { kind: scopes[0] === 'device' ? 'gateway' : scopes[0]!, subject: '' };
  const token = bearerToken(req, route.queryToken ? query : '');
  if (!token && scopes.includes('device')) {
    // A device may prove who it is with a client certificate signed by the node's client CA (mutual TLS).
    const device = certificateDevice(req);
    if (device !== undefined) return { kind: 'device', subject: device };
  }
  if (!token) {
    const inQuery = !route.queryToken && !req.headers.authorization && query.includes('access_token=');
    const message = inQuery
      ? 'a token in the URL (access_token) is accepted by GET /v1/stream only: send "Authorization: Bearer <token>"'
      : 'missing token: send "Authorization: Bearer <token>" (create one with `edgeagg token create`)';
    sendError(res, 401, 'unauthorized', message, { 'www-authenticate': 'Bearer' });
    return undefined;
  }
  try {
    const principal = await verifier.verify(token);
    if (!scopes.includes(principal.scope)) {
      sendError(res, 403, 'forbidden', `a ${principal.scope} token cannot do this; it needs one of: ${scopes.join(', ')}`);
      return undefined;
    }
    return { kind: principal.scope, subject: principal.subject, tokenId: principal.tokenId };
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    sendError(res, 401, 'unauthorized', error.message, { 'www-authenticate': 'Bearer error="invalid_token"' });
    return undefined;
  }
}

/**
 * `Authorization: Bearer`, or `access_token` in `query` for EventSource, which cannot set headers (pass ''
 * where a token in the URL is not accepted).
 */
export function bearerToken(req: IncomingMessage, query: string): string | undefined {
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
