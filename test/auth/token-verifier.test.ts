/**
 * The token verifier against every malformed claim of a validly signed token (issue 16, item 5): each is
 * a TokenError (401), never a crash (500), and key ids, lifetimes and revocations are honoured.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  RevocationList,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  TokenError,
  TokenVerifier,
  decodeTokenId,
  issueToken,
  keyId,
  type NodeKey,
  type Revocation,
} from '../../src/auth/index.js';

const NOW = Date.UTC(2026, 0, 1);
const NOW_S = NOW / 1000;

function nodeKey(): NodeKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), keyId: keyId(publicKey) };
}

const key = nodeKey();
const other = nodeKey();

/** A token signed by `signer` with these claims over sane defaults; `kid: null` leaves the header without one. */
function sign(claims: Record<string, unknown>, options: { signer?: NodeKey; kid?: string | null } = {}): Promise<string> {
  const signer = options.signer ?? key;
  const payload: JWTPayload = { scope: 'read', sub: 'reader', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: NOW_S - 10, exp: NOW_S + 3600, jti: 'id-1', ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const kid = options.kid === undefined ? signer.keyId : options.kid;
  return new SignJWT(payload).setProtectedHeader(kid === null ? { alg: 'EdDSA' } : { alg: 'EdDSA', kid }).sign(signer.privateKey);
}

function verifier(options: { keys?: KeyObject[]; revocations?: Revocation[]; maxLifetimeSeconds?: number } = {}): TokenVerifier {
  const revoked = options.revocations ?? [];
  return new TokenVerifier(options.keys ?? [key.publicKey, other.publicKey], {
    now: () => NOW,
    maxLifetimeSeconds: options.maxLifetimeSeconds,
    revocations: new RevocationList({ load: () => revoked, now: () => NOW }),
  });
}

async function refusal(token: string, v = verifier()): Promise<TokenError> {
  const error = await v.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenError);
  return error as TokenError;
}

describe('a well-formed token', () => {
  it('is accepted with its subject, id and issue time', async () => {
    expect(await verifier().verify(await sign({}))).toEqual({ scope: 'read', subject: 'reader', expiresAt: (NOW_S + 3600) * 1000, tokenId: 'id-1', issuedAt: (NOW_S - 10) * 1000 });
  });

  it('issueToken signs with a kid (the key thumbprint) and a random jti', async () => {
    const a = await issueToken(key, { scope: 'device', subject: 'dev-1' });
    const b = await issueToken(key, { scope: 'device', subject: 'dev-1' });
    expect(decodeProtectedHeader(a).kid).toBe(key.keyId);
    expect(decodeJwt(a).jti).toEqual(expect.any(String));
    expect(decodeJwt(a).jti).not.toBe(decodeJwt(b).jti);
    expect(decodeTokenId(a)).toBe(decodeJwt(a).jti);
    expect(await new TokenVerifier([key.publicKey]).verify(a)).toMatchObject({ scope: 'device', subject: 'dev-1' });
  });
});

describe('regression: a validly signed token whose sub is not a string gives 500', () => {
  it.each([
    ['a number', 42],
    ['an object', { id: 'x' }],
    ['an array', ['x']],
    ['empty', ''],
    ['null', null],
  ])('sub %s is a TokenError', async (_name, sub) => {
    expect((await refusal(await sign({ sub }))).reason).toBe('invalid');
  });

  it('a missing sub is a TokenError', async () => {
    expect((await refusal(await sign({ sub: undefined }))).reason).toBe('invalid');
  });
});

describe('regression: tokens have no maximum lifetime', () => {
  it('exp = 2^53 is refused', async () => {
    expect((await refusal(await sign({ exp: 2 ** 53 }))).message).toMatch(/lives longer/);
  });

  it('exp - iat over the configured lifetime is refused, at it accepted', async () => {
    await refusal(await sign({ iat: NOW_S - 10, exp: NOW_S - 10 + 3601 }), verifier({ maxLifetimeSeconds: 3600 }));
    await expect(verifier({ maxLifetimeSeconds: 3600 }).verify(await sign({ iat: NOW_S - 10, exp: NOW_S - 10 + 3600 }))).resolves.toBeDefined();
  });

  it('without iat, exp - now counts', async () => {
    await refusal(await sign({ iat: undefined, exp: NOW_S + 3601 }), verifier({ maxLifetimeSeconds: 3600 }));
    await expect(verifier({ maxLifetimeSeconds: 3600 }).verify(await sign({ iat: undefined, exp: NOW_S + 3000 }))).resolves.toBeDefined();
  });

  it('the default is 90 days', async () => {
    await refusal(await sign({ exp: NOW_S + 91 * 86400 }));
    await expect(verifier().verify(await sign({ exp: NOW_S + 89 * 86400 }))).resolves.toBeDefined();
  });
});

describe('regression: a future iat is accepted', () => {
  it('iat beyond the clock skew is refused; within it, accepted', async () => {
    expect((await refusal(await sign({ iat: NOW_S + 61, exp: NOW_S + 3600 }))).message).toMatch(/iat.*future/);
    await expect(verifier().verify(await sign({ iat: NOW_S + 59 }))).resolves.toBeDefined();
  });
});

describe('every malformed claim is a TokenError', () => {
  it.each([
    ['exp a string', { exp: String(NOW_S + 60) }],
    ['exp missing', { exp: undefined }],
    ['iat a string', { iat: 'yesterday' }],
    ['nbf in the future', { nbf: NOW_S + 600 }],
    ['scope unknown', { scope: 'root' }],
    ['scope an array', { scope: ['admin'] }],
    ['jti a number', { jti: 7 }],
    ['jti empty', { jti: '' }],
    ['iss another', { iss: 'someone' }],
    ['aud another', { aud: 'elsewhere' }],
  ])('%s', async (_name, claims) => {
    const error = await refusal(await sign(claims));
    expect(['invalid', 'expired']).toContain(error.reason);
  });

  it('an expired token', async () => {
    expect((await refusal(await sign({ iat: NOW_S - 7200, exp: NOW_S - 60 }))).reason).toBe('expired');
  });
});

describe('key ids', () => {
  it('a token without kid is tried against every trusted key', async () => {
    await expect(verifier().verify(await sign({}, { signer: other, kid: null }))).resolves.toMatchObject({ subject: 'reader' });
  });

  it('an unknown kid is refused', async () => {
    expect((await refusal(await sign({}, { kid: 'no-such-key' }))).message).toMatch(/unknown kid/);
  });

  it('a kid of another trusted key does not verify this signature', async () => {
    await refusal(await sign({}, { kid: other.keyId }));
  });

  it('a kid naming a key that is not trusted is refused', async () => {
    await refusal(await sign({}, { signer: other }), verifier({ keys: [key.publicKey] }));
  });
});

describe('revocation', () => {
  it('a revoked token id is refused, even once cached', async () => {
    const revoked: Revocation[] = [];
    let t = NOW;
    const v = new TokenVerifier([key.publicKey], { now: () => NOW, revocations: new RevocationList({ load: () => revoked, now: () => t }) });
    const token = await sign({ jti: 'bad' });
    await v.verify(token);
    revoked.push({ kind: 'token', value: 'bad', revokedAtMs: NOW });
    await v.verify(token); // the copy in memory is at most refreshMs old
    t += 1000;
    expect((await refusal(token, v)).reason).toBe('revoked');
    await expect(v.verify(await sign({ jti: 'good' }))).resolves.toBeDefined();
  });

  it('a revoked subject refuses its tokens issued up to the revocation, not later ones nor others', async () => {
    const v = verifier({ revocations: [{ kind: 'subject', value: 'dev-7', revokedAtMs: NOW - 5_000 }] });
    expect((await refusal(await sign({ sub: 'dev-7', iat: NOW_S - 10 }), v)).reason).toBe('revoked');
    expect((await refusal(await sign({ sub: 'dev-7', iat: undefined, exp: NOW_S + 60 }), v)).reason).toBe('revoked');
    await expect(v.verify(await sign({ sub: 'dev-7', iat: NOW_S - 1 }))).resolves.toBeDefined();
    await expect(v.verify(await sign({ sub: 'dev-8', iat: NOW_S - 10 }))).resolves.toBeDefined();
  });

  it('a failing store keeps the revocations last read', async () => {
    let fail = false;
    let t = NOW;
    const errors: unknown[] = [];
    const list = new RevocationList({
      load: () => {
        if (fail) throw new Error('disk on fire');
        return [{ kind: 'token', value: 'x', revokedAtMs: NOW }];
      },
      now: () => t,
      onError: (e) => errors.push(e),
    });
    expect(list.isRevoked({ tokenId: 'x', subject: 's' })).toBe(true);
    fail = true;
    t += 5_000;
    expect(list.isRevoked({ tokenId: 'x', subject: 's' })).toBe(true);
    expect(errors).toHaveLength(1);
  });
});

describe('decodeTokenId', () => {
  it('says why there is no id', async () => {
    expect(() => decodeTokenId('nope')).toThrow(/not a JWT/);
    expect(() => decodeTokenId('x.y.z')).toThrow(/not a JWT/);
    expect(() => decodeTokenId(`${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.sig`)).toThrow(/no id/);
  });
});
