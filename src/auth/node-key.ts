/**
 * The node's token key: an Ed25519 key pair in `dataDir/keys`, created on first start, readable by the
 * node's user only (the private key signs every token the node issues).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NodeKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** The `kid` of the tokens this key signs: {@link keyId} of its public key. */
  keyId: string;
}

const KEY_FILE = 'node-token.key.pem';
const PUB_FILE = 'node-token.pub.pem';
const PRIVATE_MODE = 0o600;

/** Loads the node's token key from `dataDir/keys`, creating it on first start. */
export function loadOrCreateNodeKey(dataDir: string): { key: NodeKey; created: boolean } {
  const dir = join(dataDir, 'keys');
  const keyPath = join(dir, KEY_FILE);
  let created = false;
  if (!existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: PRIVATE_MODE });
    writeFileSync(join(dir, PUB_FILE), publicKey.export({ format: 'pem', type: 'spki' }), { mode: PRIVATE_MODE });
    created = true;
  } else {
    // Keys written by earlier versions were readable by everyone: tighten them.
    restrict(dir, 0o700);
    restrict(keyPath, PRIVATE_MODE);
    restrict(join(dir, PUB_FILE), PRIVATE_MODE);
  }
  const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
  const publicKey = createPublicKey(privateKey);
  return { key: { privateKey, publicKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), keyId: keyId(publicKey) }, created };
}

/** Reads the node's key without creating one (for `edgeagg token create`). */
export function readNodeKey(dataDir: string): NodeKey {
  const keyPath = join(dataDir, 'keys', KEY_FILE);
  if (!existsSync(keyPath)) {
    throw new Error(`no node key in ${join(dataDir, 'keys')}: start the node once with --data-dir ${dataDir}, or point --data-dir at its data directory`);
  }
  return loadOrCreateNodeKey(dataDir).key;
}

/**
 * The key id of a public key: its JWK thumbprint (RFC 7638, SHA-256, base64url), so every node and tool
 * derives the same id from the same key without configuration.
 */
export function keyId(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members only, in lexicographic order, without whitespace.
  const members = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function restrict(path: string, mode: number): void {
  try {
    if ((statSync(path).mode & 0o777 & ~mode) !== 0) chmodSync(path, mode);
  } catch {
    // Missing (the public key is optional) or not ours to change: reading it still works.
  }
}
