import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { signModule, type Capability, type RetentionRule } from '../runtime/index.js';
import { print } from './args.js';
import { GUEST_LANGUAGES, compileGuestProject, type GuestLanguage } from './guest-toolchains.js';

interface BuildOptions {
  key: string;
  version?: string;
  json?: boolean;
}

/** edgeagg.json, written by `edgeagg new`. */
interface ProjectFile {
  name: string;
  language: GuestLanguage;
  version?: string;
}

/** guest.json: what the module asks for, signed into its manifest. */
interface GuestFile {
  capabilities?: Capability[];
  limits?: { memory_bytes?: number; deadline_ms?: number };
  retention?: RetentionRule[];
}

function readJson<T>(file: string, hint: string): T {
  if (!existsSync(file)) throw new Error(`no ${file}: ${hint}`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** `edgeagg build`: compiles a project made by `edgeagg new` to build/<name>.wasm and signs it. */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('compile a guest project (from `edgeagg new`) to DIR/build/NAME.wasm and sign it')
    .argument('[dir]', 'the project folder', '.')
    .requiredOption('--key <file>', 'private key (PEM) from `edgeagg keygen`')
    .option('--version <version>', 'module version (default: edgeagg.json "version")')
    .option('--json', 'print the module, its signature file and manifest as JSON')
    .action(async (dirArg: string, options: BuildOptions) => {
      const dir = resolve(dirArg);
      const project = readJson<ProjectFile>(join(dir, 'edgeagg.json'), 'not a guest project (create one with `edgeagg new`)');
      if (!GUEST_LANGUAGES.includes(project.language)) throw new Error(`edgeagg.json: unknown language ${project.language}; known: ${GUEST_LANGUAGES.join(', ')}`);
      const guest = readJson<GuestFile>(join(dir, 'guest.json'), 'the project declares its capabilities in guest.json');
      const privateKey = readFileSync(options.key, 'utf8');
      const wasmPath = join(dir, 'build', `${project.name}.wasm`);
      const started = performance.now();
      const wasm = await compileGuestProject(dir, project.language, project.name, wasmPath);
      const file = signModule(
        wasm,
        { name: project.name, version: options.version ?? project.version ?? '0.1.0', limits: guest.limits ?? {}, capabilities: guest.capabilities ?? [], retention: guest.retention },
        privateKey,
      );
      const sigPath = `${wasmPath}.sig.json`;
      writeFileSync(sigPath, `${JSON.stringify(file, null, 2)}\n`);
      const ms = Math.round(performance.now() - started);
      print(
        options.json,
        { module: wasmPath, signature_file: sigPath, manifest: file.manifest, key_id: file.signature!.key_id, build_ms: ms },
        `built ${file.manifest.name}@${file.manifest.version} (${wasm.length} bytes, ${ms} ms), signed with key ${file.signature!.key_id}: ${wasmPath}`,
      );
    });
}
