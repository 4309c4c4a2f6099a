/**
 * The node's module registry: module bytes content-addressed by sha256 in `<data-dir>/modules/`, with one
 * signature file per version (the same bytes may be signed as several versions), and their manifests in
 * SQLite (`module_version`). A file is written to a temporary name, fsynced and renamed, so a crash leaves
 * a whole module or none; the row that names it is written only after, so a row never names a missing
 * file. Files no row names (a crash between the two) are removed at the next start.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex, type Manifest, type ModuleBundle, type SignatureFile } from '../runtime/index.js';
import type { DeploymentRecords, ModuleVersionRow } from '../store/index.js';

export class ModuleRegistry {
  readonly dir: string;

  constructor(
    dataDir: string,
    private readonly records: DeploymentRecords,
    private readonly now: () => number = Date.now,
  ) {
    this.dir = join(dataDir, 'modules');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The registered version, or undefined. */
  version(app: string, version: string): ModuleVersionRow | undefined {
    return this.records.version(app, version);
  }

  versions(): ModuleVersionRow[] {
    return this.records.versions();
  }

  /** Writes the module's files (durably); the caller then records it with {@link register} in its transaction. */
  store(bundle: ModuleBundle): void {
    const file = bundle.signatureFile as SignatureFile;
    const sha = file.manifest.sha256;
    writeDurably(this.wasmPath(sha), bundle.wasm);
    writeDurably(this.signaturePath(sha, file.manifest.version), Buffer.from(`${JSON.stringify(file)}\n`));
  }

  /** Records a stored module version (inside the caller's transaction). */
  register(manifest: Manifest, keyId: string): void {
    this.records.putVersion({
      app: manifest.name,
      version: manifest.version,
      sha256: manifest.sha256,
      release: manifest.release ?? 0,
      keyId,
      manifest: JSON.stringify(manifest),
      addedAtMs: this.now(),
    });
  }

  /** The bundle of a stored version, checked against its name: bytes whose hash differs are refused. */
  read(ref: { sha256: string; version: string }): ModuleBundle {
    const wasm = readFileSync(this.wasmPath(ref.sha256));
    if (sha256Hex(wasm) !== ref.sha256) throw new Error(`module ${ref.sha256} in the registry is damaged: its bytes do not match their sha256`);
    return { wasm, signatureFile: JSON.parse(readFileSync(this.signaturePath(ref.sha256, ref.version), 'utf8')) as unknown };
  }

  /** Removes files no registered version names (left by a crash between the file and its row). */
  collectGarbage(): number {
    const named = new Set(this.versions().map((v) => v.sha256));
    let removed = 0;
    for (const name of readdirSync(this.dir)) {
      const sha = name.split('.')[0]!;
      if (named.has(sha) && !name.includes('.tmp-')) continue;
      rmSync(join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }


  private wasmPath(sha256: string): string {
    return join(this.dir, `${sha256}.wasm`);
  }

  /** One per version: the same bytes may be signed as several versions (each its own manifest). */
  private signaturePath(sha256: string, version: string): string {
    return join(this.dir, `${sha256}.${version}.sig.json`);
  }
}

/** Temporary file, fsync, rename, fsync of the directory: the name holds the whole content or nothing. */
function writeDurably(path: string, bytes: Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
