/**
 * Tokens: EdDSA (Ed25519) JWTs through `jose`. A node signs with its own key (created in the data
 * directory on first start) and accepts tokens signed by its own key or by any configured fleet
 * key, so a sensor that fails over to another node of the fleet is welcome there.
 *
 * Verification pins the algorithm (no `alg: none`, no HMAC confusion) and requires `exp`, `iss`,
 * `aud` and the `scope` claim. Verified tokens are cached until they expire: a sensor sends the
 * same token with every request, and an Ed25519 verification costs tens of microseconds.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';

export const TOKEN_ISSUER = 'edgeagg';
export const TOKEN_AUDIENCE = 'edge-aggregator';
export const SCOPES = ['device', 'gateway', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  scope: Scope;
  /** The device id for device tokens; a label for the others. */
  subject: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

export interface NodeKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

const KEY_FILE = 'node-token.key.pem';
const PUB_FILE = 'node-token.pub.pem';
const DEVICE_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Loads the node's token key from `dataDir/keys`, creating it on first start. */
export function loadOrCreateNodeKey(dataDir: string): { key: NodeKey; created: boolean } {
  const dir = join(dataDir, 'keys');
  const keyPath = join(dir, KEY_FILE);
  let created = false;
  if (!existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(join(dir, PUB_FILE), publicKey.export({ format: 'pem', type: 'spki' }));
    created = true;
  }
  const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
  const publicKey = createPublicKey(privateKey);
  return { key: { privateKey, publicKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() }, created };
}

/** Reads the node's key without creating one (for `edgeagg token create`). */
export function readNodeKey(dataDir: string): NodeKey {
  const keyPath = join(dataDir, 'keys', KEY_FILE);
  if (!existsSync(keyPath)) {
    throw new Error(`no node key in ${join(dataDir, 'keys')}: start the node once with --data-dir ${dataDir}, or point --data-dir at its data directory`);
  }
  return loadOrCreateNodeKey(dataDir).key;
}

export interface IssueOptions {
  scope: Scope;
  /** Required for device tokens: the device id. */
  subject?: string;
  /** Lifetime in seconds. @default 2592000 (30 days) */
  ttlSeconds?: number;
}

export async function issueToken(key: NodeKey, options: IssueOptions): Promise<string> {
  if (options.scope === 'device' && !DEVICE_ID_RE.test(options.subject ?? '')) {
    throw new Error('a device token needs the device id: 1-128 characters of [A-Za-z0-9._:-]');
  }
  const ttl = options.ttlSeconds ?? 30 * 24 * 3600;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('ttl must be a positive number of seconds');
  return new SignJWT({ scope: options.scope })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(options.subject ?? options.scope)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(key.privateKey);
}

/** Why a token was refused; `expired` and `invalid` are 401, the caller maps scope errors to 403. */
export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly reason: 'missing' | 'invalid' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

const CACHE_LIMIT = 10_000;

export class TokenVerifier {
  private readonly keys: KeyObject[];
  private readonly cache = new Map<string, Principal>();

  constructor(keys: KeyObject[], private readonly now: () => number = Date.now) {
    this.keys = keys;
  }

  async verify(token: string): Promise<Principal> {
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt > this.now()) return cached;
      this.cache.delete(token);
      throw new TokenError('expired', 'the token has expired: create a new one');
    }
    const principal = await this.verifyUncached(token);
    if (this.cache.size >= CACHE_LIMIT) {
      // Drop the oldest entry (Map iterates in insertion order).
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(token, principal);
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA') throw new TokenError('invalid', `tokens must be signed with EdDSA, not ${String(header.alg)}`);
    } catch (error) {
      if (error instanceof TokenError) throw error;
      throw new TokenError('invalid', 'the token is not a JWT');
    }
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['EdDSA'],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['exp', 'sub'],
          currentDate: new Date(this.now()),
        });
        const scope = payload.scope;
        if (typeof scope !== 'string' || !(SCOPES as readonly string[]).includes(scope)) {
          throw new TokenError('invalid', 'the token has no valid scope claim');
        }
        return { scope: scope as Scope, subject: payload.sub!, expiresAt: payload.exp! * 1000 };
      } catch (error) {
        if (error instanceof TokenError) throw error;
        if (error instanceof joseErrors.JWTExpired) throw new TokenError('expired', 'the token has expired: create a new one');
        if (error instanceof joseErrors.JWTClaimValidationFailed) {
          throw new TokenError('invalid', `the token's ${error.claim} claim is not accepted here`);
        }
        // A signature that does not match this key: try the next trusted key.
      }
    }
    throw new TokenError('invalid', 'the token signature does not match any trusted key');
  }
}
