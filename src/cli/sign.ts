import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CAPABILITIES, signModule, type Capability } from '../runtime/index.js';
import { integerArg, print } from './args.js';

interface SignOptions {
  json?: boolean;
  key: string;
  name: string;
  version: string;
  capability: string[];
  release?: number;
  memoryBytes?: string;
  deadlineMs?: string;
  out?: string;
}

/** `edgeagg sign`: writes MODULE.wasm.sig.json, the manifest and its Ed25519 signature. */
export function registerSign(program: Command): void {
  program
    .command('sign')
    .description('sign a module: writes MODULE.sig.json with its manifest and an Ed25519 signature')
    .argument('<module>', 'the .wasm file')
    .requiredOption('--key <file>', 'private key (PEM) from `edgeagg keygen`')
    .requiredOption('--name <name>', 'module name ([a-z0-9_-])')
    .requiredOption('--version <version>', 'module version')
    .option('--capability <cap...>', `capabilities the module asks for (${CAPABILITIES.join(', ')})`, [])
    .option('--release <n>', 'release counter: nodes refuse a lower one than they have accepted for this module name', integerArg(0))
    .option('--memory-bytes <n>', 'memory limit in bytes')
    .option('--deadline-ms <n>', 'CPU deadline per call in milliseconds')
    .option('--out <file>', 'where to write the signature file (default MODULE.sig.json)')
    .option('--json', 'print the signed manifest and the signature file path as JSON')
    .action((modulePath: string, options: SignOptions) => {
      for (const c of options.capability) {
        if (!(CAPABILITIES as readonly string[]).includes(c)) throw new Error(`unknown capability ${c}; known: ${CAPABILITIES.join(', ')}`);
      }
      const wasm = readFileSync(modulePath);
      const limits: { memory_bytes?: number; deadline_ms?: number } = {};
      if (options.memoryBytes) limits.memory_bytes = Number(options.memoryBytes);
      if (options.deadlineMs) limits.deadline_ms = Number(options.deadlineMs);
      const file = signModule(
        wasm,
        { name: options.name, version: options.version, limits, capabilities: options.capability as Capability[], release: options.release },
        readFileSync(options.key, 'utf8'),
      );
      const out = options.out ?? `${modulePath}.sig.json`;
      writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
      print(
        options.json,
        { manifest: file.manifest, key_id: file.signature!.key_id, signature_file: out },
        `signed ${file.manifest.name}@${file.manifest.version} (sha256 ${file.manifest.sha256.slice(0, 16)}…) with key ${file.signature!.key_id}: ${out}`,
      );
    });
}
