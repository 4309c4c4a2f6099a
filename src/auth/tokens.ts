/**
 * Tokens: EdDSA (Ed25519) JWTs through `jose`. A node signs with its own key (created in the data
 * directory on first start) and accepts tokens signed by its own key or by any configured fleet
 * key, so a sensor that fails over to another node of the fleet is welcome there.
 *
 * Verification pins the algorithm (no `alg: none`, no HMAC confusion), selects the key by the token's
 * `kid` (tokens without one, from earlier versions, are tried against every trusted key), requires `exp`,
 * `iss`, `aud`, a string `sub` and the `scope` claim, bounds the lifetime, and refuses revoked tokens.
 * Every refusal is a {@link TokenError}. Verified tokens are cached until they expire: a sensor sends the
 * same token with every request, and an Ed25519 verification costs tens of microseconds; revocation is
 * checked on every use, cached or not.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { keyId, type NodeKey } from './node-key.js';
import type { RevocationList } from './revocation-list.js';

export { loadOrCreateNodeKey, readNodeKey, keyId, type NodeKey } from './node-key.js';

export const TOKEN_ISSUER = 'edgeagg';
export const TOKEN_AUDIENCE = 'edge-aggregator';
export const SCOPES = ['device', 'gateway', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Longest lifetime a token may have unless configured (`token-max-lifetime-s`): 90 days. */
export const DEFAULT_MAX_LIFETIME_S = 90 * 24 * 3600;
/** How far ahead of this node's clock a token's `iat` may be (the issuer's clock may run ahead). */
export const CLOCK_SKEW_S = 60;

export interface Principal {
  scope: Scope;
  /** The device id for device tokens; a label for the others. */
  subject: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
  /** The token id (`jti`); undefined for tokens made before tokens had one. */
  tokenId?: string;
  /** `iat` in milliseconds since the epoch; undefined when the token has none. */
  issuedAt?: number;
}

const DEVICE_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export interface IssueOptions {
  scope: Scope;
  /** Required for device tokens: the device id. */
  subject?: string;
  /** Lifetime in seconds. @default 2592000 (30 days) */
  ttlSeconds?: number;
}

/** A signed token with a fresh random id (`jti`, for revocation) and the key's id (`kid`). */
export async function issueToken(key: NodeKey, options: IssueOptions): Promise<string> {
  if (options.scope === 'device' && !DEVICE_ID_RE.test(options.subject ?? '')) {
    throw new Error('a device token needs the device id: 1-128 characters of [A-Za-z0-9._:-]');
  }
  const ttl = options.ttlSeconds ?? 30 * 24 * 3600;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('ttl must be a positive number of seconds');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: options.scope })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.keyId })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(options.subject ?? options.scope)
    .setJti(randomBytes(16).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(key.privateKey);
}

/** Why a token was refused; all of them are 401 (the caller maps scope errors to 403). */
export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly reason: 'missing' | 'invalid' | 'expired' | 'revoked',
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifierOptions {
  /** Longest accepted lifetime in seconds: `exp - iat`, or `exp - now` for a token without `iat`. @default 7776000 (90 days) */
  maxLifetimeSeconds?: number;
  /** Revoked tokens and subjects. @default none */
  revocations?: RevocationList;
  /** The clock. @default Date.now */
  now?: () => number;
}

const CACHE_LIMIT = 10_000;

export class TokenVerifier {
  private readonly keys: { key: KeyObject; kid: string }[];
  private readonly cache = new Map<string, Principal>();
  private readonly now: () => number;
  private readonly maxLifetimeS: number;
  private readonly revocations: RevocationList | undefined;

  /** `options` may be just the clock, as before options existed. */
  constructor(keys: KeyObject[], options: TokenVerifierOptions | (() => number) = {}) {
    const o = typeof options === 'function' ? { now: options } : options;
    this.keys = keys.map((key) => ({ key, kid: keyId(key) }));
    this.now = o.now ?? Date.now;
    this.maxLifetimeS = o.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_S;
    this.revocations = o.revocations;
  }

  async verify(token: string): Promise<Principal> {
    let principal = this.cache.get(token);
    if (principal && principal.expiresAt <= this.now()) {
      this.cache.delete(token);
      throw new TokenError('expired', 'the token has expired: create a new one');
    }
    if (!principal) {
      principal = await this.verifyUncached(token);
      if (this.cache.size >= CACHE_LIMIT) {
        // Drop the oldest entry (Map iterates in insertion order).
        this.cache.delete(this.cache.keys().next().value!);
      }
      this.cache.set(token, principal);
    }
    if (this.revocations?.isRevoked(principal)) {
      throw new TokenError('revoked', 'the token has been revoked: ask for a new one');
    }
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    let kid: unknown;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA') throw new TokenError('invalid', `tokens must be signed with EdDSA, not ${String(header.alg)}`);
      kid = header.kid;
    } catch (error) {
      if (error instanceof TokenError) throw error;
      throw new TokenError('invalid', 'the token is not a JWT');
    }
    let candidates = this.keys;
    if (kid !== undefined) {
      candidates = this.keys.filter((k) => k.kid === kid);
      if (candidates.length === 0) throw new TokenError('invalid', 'the token is signed by a key this node does not trust (unknown kid)');
    }
    for (const { key } of candidates) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['EdDSA'],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['exp', 'sub'],
          currentDate: new Date(this.now()),
        }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw new TokenError('expired', 'the token has expired: create a new one');
        if (error instanceof joseErrors.JWTClaimValidationFailed) {
          throw new TokenError('invalid', `the token's ${error.claim} claim is not accepted here`);
        }
        if (error instanceof joseErrors.JWTInvalid) throw new TokenError('invalid', 'the token is not a valid JWT');
        // A signature that does not match this key: try the next trusted key.
        continue;
      }
      return this.principal(payload);
    }
    throw new TokenError('invalid', 'the token signature does not match any trusted key');
  }

  /** The claims of a validly signed token, checked beyond what jose checks. */
  private principal(payload: JWTPayload): Principal {
    const { scope, sub, exp, iat, jti } = payload;
    if (typeof scope !== 'string' || !(SCOPES as readonly string[]).includes(scope)) {
      throw new TokenError('invalid', 'the token has no valid scope claim');
    }
    if (typeof sub !== 'string' || sub.length === 0) throw new TokenError('invalid', "the token's sub claim must be a non-empty string");
    if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0)) throw new TokenError('invalid', "the token's jti claim must be a non-empty string");
    // jose has checked that exp (and iat, when present) are numbers.
    const nowS = this.now() / 1000;
    if (iat !== undefined && iat > nowS + CLOCK_SKEW_S) throw new TokenError('invalid', "the token's iat claim is in the future");
    if (exp! - (iat ?? nowS) > this.maxLifetimeS) {
      throw new TokenError('invalid', `the token lives longer than this node accepts (${this.maxLifetimeS} s): create one with a shorter --ttl`);
    }
    return { scope: scope as Scope, subject: sub, expiresAt: exp! * 1000, tokenId: jti, issuedAt: iat === undefined ? undefined : iat * 1000 };
  }
}
