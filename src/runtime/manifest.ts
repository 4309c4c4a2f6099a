/**
 * The manifest that travels with a module, and its signature (docs/abi.md, "Manifest and
 * signature"). Ed25519 from node:crypto; keys are PEM files (PKCS#8 private, SPKI public).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { ABI_VERSION, CAPABILITIES, type Capability } from './abi.js';
import { ModuleLoadError } from './errors.js';
import { retentionProblem, type RetentionRule } from './retention-rules.js';

export interface ModuleLimits {
  /** The largest memory the module may use, in bytes. @default 67108864 (64 MiB, the node's cap) */
  memory_bytes?: number;
  /**
   * CPU time per call, in milliseconds of the reference machine: the call's fuel budget is this times
   * the node's fuel per millisecond (docs/abi.md, "Deadline").
   * @default 50
   */
  deadline_ms?: number;
}

export interface Manifest {
  name: string;
  version: string;
  abi: number;
  /** Hex SHA-256 of the module bytes. */
  sha256: string;
  limits: ModuleLimits;
  capabilities: Capability[];
  /** Time-bucketed key families the node prunes (docs/abi.md, "Retention"). @default undefined (nothing pruned) */
  retention?: RetentionRule[];
  /**
   * The release counter of this app: a node refuses a module whose release is below the highest it has
   * accepted for the app (`release_rollback`), unless its operator explicitly allows the downgrade.
   * @default 0
   */
  release?: number;
}

export interface ModuleSignature {
  alg: 'Ed25519';
  key_id: string;
  /** Base64 Ed25519 signature over {@link signedMessage}. */
  value: string;
}

/** The contents of `NAME.wasm.sig.json`. */
export interface SignatureFile {
  manifest: Manifest;
  signature?: ModuleSignature;
}

/** A module as it arrives: its bytes and its signature file. */
export interface ModuleBundle {
  wasm: Uint8Array;
  signatureFile: unknown;
}

const SIGNATURE_DOMAIN = 'edgeagg-module-v1\n';
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON with keys sorted at every level and no whitespace: the bytes that get signed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function signedMessage(manifest: Manifest): Buffer {
  return Buffer.from(SIGNATURE_DOMAIN + canonicalJson(manifest), 'utf8');
}

/** First 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key. */
export function keyId(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('not an Ed25519 public key');
  return sha256Hex(Buffer.from(jwk.x, 'base64url')).slice(0, 16);
}

export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyId(publicKey),
  };
}

export function parsePublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('trusted keys must be Ed25519 public keys');
  return key;
}

/** Builds the signature file for `wasm`: the manifest with its hash, signed with `privateKeyPem`. */
export function signModule(
  wasm: Uint8Array,
  manifest: Omit<Manifest, 'sha256' | 'abi'> & { abi?: number },
  privateKeyPem: string,
): SignatureFile {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('signing keys must be Ed25519 private keys');
  const full: Manifest = {
    name: manifest.name,
    version: manifest.version,
    abi: manifest.abi ?? ABI_VERSION,
    sha256: sha256Hex(wasm),
    limits: manifest.limits,
    capabilities: [...manifest.capabilities].sort(),
    ...(manifest.retention !== undefined && { retention: manifest.retention }),
    release: manifest.release,
  };
  validateManifest(full);
  const value = sign(null, signedMessage(full), privateKey).toString('base64');
  return { manifest: full, signature: { alg: 'Ed25519', key_id: keyId(createPublicKey(privateKey)), value } };
}

/** A set of trusted public keys, by key id. */
export class TrustedKeys {
  private readonly keys = new Map<string, KeyObject>();

  constructor(publicKeyPems: Iterable<string> = []) {
    for (const pem of publicKeyPems) this.add(pem);
  }

  add(pem: string): string {
    const key = parsePublicKey(pem);
    const id = keyId(key);
    this.keys.set(id, key);
    return id;
  }

  get(id: string): KeyObject | undefined {
    return this.keys.get(id);
  }

  get ids(): string[] {
    return [...this.keys.keys()];
  }
}

/**
 * Checks a bundle's signature and hash against the trusted keys and returns its manifest.
 * Order matters for the error a user sees: first is it signed, by whom, intact, then for this ABI.
 */
export function verifyBundle(bundle: ModuleBundle, trusted: TrustedKeys): Manifest {
  const file = bundle.signatureFile as Partial<SignatureFile> | undefined;
  if (!file || typeof file !== 'object' || !file.manifest) throw new ModuleLoadError('unsigned', 'no signature file');
  const sig = file.signature;
  if (!sig || typeof sig !== 'object' || typeof sig.value !== 'string' || typeof sig.key_id !== 'string') {
    throw new ModuleLoadError('unsigned', 'the signature file has no signature');
  }
  if (sig.alg !== 'Ed25519') throw new ModuleLoadError('bad_signature', `unsupported signature algorithm ${String(sig.alg)}`);
  const key = trusted.get(sig.key_id);
  if (!key) throw new ModuleLoadError('untrusted_key', `signed by key ${sig.key_id}, which this node does not trust`);
  const manifest = file.manifest;
  let ok: boolean;
  try {
    ok = verify(null, signedMessage(manifest), key, Buffer.from(sig.value, 'base64'));
  } catch {
    ok = false; // a malformed signature or manifest
  }
  if (!ok) throw new ModuleLoadError('bad_signature', `the signature by key ${sig.key_id} does not match the manifest`);
  validateManifest(manifest);
  if (manifest.abi !== ABI_VERSION) {
    throw new ModuleLoadError('abi_mismatch', `the module is built for ABI ${String(manifest.abi)}; this node implements ABI ${ABI_VERSION}`);
  }
  if (manifest.sha256 !== sha256Hex(bundle.wasm)) {
    throw new ModuleLoadError('hash_mismatch', `module ${manifest.name}@${manifest.version} bytes do not match the signed sha256`);
  }
  return manifest;
}

/** Checks the manifest's fields (not its ABI version, which the loader checks after the signature). */
export function validateManifest(m: Manifest): void {
  const bad = (detail: string): never => {
    throw new ModuleLoadError('invalid_manifest', detail);
  };
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) bad('name must be 1-64 of [a-z0-9_-], starting with a letter or digit');
  if (typeof m.version !== 'string' || !VERSION_RE.test(m.version)) bad('version must be 1-64 of [0-9A-Za-z.+-]');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) bad('sha256 must be 64 lower-case hex digits');
  if (!Array.isArray(m.capabilities) || m.capabilities.some((c) => !(CAPABILITIES as readonly string[]).includes(c))) {
    bad(`capabilities must be a list of ${CAPABILITIES.join(', ')}`);
  }
  if (!m.limits || typeof m.limits !== 'object') bad('limits must be an object');
  const positive = (v: unknown): boolean => v === undefined || (Number.isInteger(v) && (v as number) > 0);
  if (!positive(m.limits.memory_bytes) || !positive(m.limits.deadline_ms)) bad('limits must be positive integers');
  if (!Number.isInteger(m.abi)) bad('abi must be an integer');
  if (m.release !== undefined && !(Number.isSafeInteger(m.release) && m.release >= 0)) bad('release must be a non-negative integer');
  const retention = retentionProblem(m.retention);
  if (retention !== undefined) bad(retention);
}
