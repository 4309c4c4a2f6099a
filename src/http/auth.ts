/** Who is asking: the bearer token of a request, checked against a route's scopes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError, type Scope, type TokenVerifier } from '../auth/index.js';
import { sendError } from './respond.js';
import type { Principal } from './router.js';

/**
 * The principal of a request allowed on a route with these scopes, or undefined once a 401 or 403 has
 * been sent. Without a verifier (authentication off) every request is let through with the route's
 * first scope.
 */
export async function authenticate(
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
  scopes: readonly Scope[],
  verifier: TokenVerifier | undefined,
): Promise<Principal | undefined> {
  if (scopes.length === 0) return { kind: 'anonymous', subject: '' };
  if (!verifier) return { kind: scopes[0] === 'device' ? 'gateway' : scopes[0]!, subject: '' };
  const token = bearerToken(req, query);
  if (!token) {
    sendError(res, 401, 'unauthorized', 'missing token: send "Authorization: Bearer <token>" (create one with `edgeagg token create`)', {
      'www-authenticate': 'Bearer',
    });
    return undefined;
  }
  try {
    const principal = await verifier.verify(token);
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
}

/** `Authorization: Bearer`, or `access_token` in the query for EventSource, which cannot set headers. */
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
