/**
 * The symbolic token names of the corpus (`request.json` `token`), turned into real tokens for one node:
 * good ones of each scope and every way a token can be wrong.
 */
import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, issueToken, readNodeKey, type Scope } from '../../src/auth/index.js';

type Claims = Record<string, unknown>;

/** A token signed by the node's own key with these claims over sane ones (`undefined` removes a claim). */
async function signed(dataDir: string, claims: Claims, header: Record<string, unknown> = {}): Promise<string> {
  const key = readNodeKey(dataDir);
  const nowS = Math.floor(Date.now() / 1000);
  const payload: Claims = { scope: 'gateway', sub: 'corpus', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: nowS, exp: nowS + 3600, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'EdDSA', kid: key.keyId, ...header }).sign(key.privateKey);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The real token for `name`, or undefined for `none`. */
export async function tokenFor(dataDir: string, name: string): Promise<string | undefined> {
  const nowS = Math.floor(Date.now() / 1000);
  if (name === 'none') return undefined;
  if (name.startsWith('device:')) return issueToken(readNodeKey(dataDir), { scope: 'device', subject: name.slice('device:'.length) });
  if (['gateway', 'read', 'admin'].includes(name)) return issueToken(readNodeKey(dataDir), { scope: name as Scope, subject: `corpus-${name}` });
  switch (name) {
    case 'expired':
      return signed(dataDir, { iat: nowS - 7200, exp: nowS - 3600 });
    case 'no-exp':
      return signed(dataDir, { exp: undefined });
    case 'no-scope':
      return signed(dataDir, { scope: undefined });
    case 'unknown-scope':
      return signed(dataDir, { scope: 'root' });
    case 'wrong-issuer':
      return signed(dataDir, { iss: 'someone-else' });
    case 'wrong-audience':
      return signed(dataDir, { aud: 'another-service' });
    case 'sub-number':
      return signed(dataDir, { sub: 42 });
    case 'future-iat':
      return signed(dataDir, { iat: nowS + 3600, exp: nowS + 7200 });
    case 'too-long-lifetime':
      return signed(dataDir, { exp: nowS + 365 * 24 * 3600 });
    case 'unknown-kid':
      return signed(dataDir, {}, { kid: 'retired' });
    case 'wrong-key': {
      const { privateKey } = await generateKeyPair('EdDSA');
      return new SignJWT({ scope: 'gateway', sub: 'corpus' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    }
    case 'alg-none':
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ scope: 'admin', sub: 'x', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: nowS, exp: nowS + 3600 })}.`;
    case 'tampered': {
      const [h, , s] = (await issueToken(readNodeKey(dataDir), { scope: 'read', subject: 'corpus' })).split('.');
      return `${h}.${b64url({ scope: 'admin', sub: 'x', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: nowS, exp: nowS + 3600 })}.${s}`;
    }
    case 'malformed':
      return 'not-a-jwt';
    default:
      throw new Error(`unknown symbolic token ${name}`);
  }
}
