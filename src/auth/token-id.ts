/** Reading a token's id without verifying it: for `edgeagg token revoke --token`, which revokes what it is given. */
import { decodeJwt } from 'jose';

/** The `jti` of a JWT, or an Error saying why there is none. */
export function decodeTokenId(token: string): string {
  let jti: unknown;
  try {
    jti = decodeJwt(token).jti;
  } catch {
    throw new Error('that is not a JWT: pass the token as printed by `edgeagg token create`');
  }
  if (typeof jti !== 'string' || jti === '') {
    throw new Error('the token has no id (it predates token ids): revoke it by its subject with --subject, or rotate the node key');
  }
  return jti;
}
