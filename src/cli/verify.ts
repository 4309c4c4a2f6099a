import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CAPABILITIES, MemoryStore, ModuleLoadError, Runtime } from '../runtime/index.js';

/** `edgeagg verify`: runs every load-time check the node would run, without serving. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("check a module's signature, hash, ABI, imports and limits as the node would when loading it")
    .argument('<module>', 'the .wasm file')
    .requiredOption('--trusted-keys <file...>', 'trusted public keys (PEM files), as `serve --trusted-keys` takes them')
    .option('--sig <file>', 'signature file (default MODULE.sig.json)')
    .option('--json', 'print the result as JSON')
    .action(async (modulePath: string, options: { trustedKeys: string[]; sig?: string; json?: boolean }) => {
      const wasm = readFileSync(modulePath);
      let signatureFile: unknown;
      try {
        signatureFile = JSON.parse(readFileSync(options.sig ?? `${modulePath}.sig.json`, 'utf8'));
      } catch {
        signatureFile = undefined;
      }
      const runtime = new Runtime({ store: new MemoryStore(), trustedKeys: options.trustedKeys.map((f) => readFileSync(f, 'utf8')) });
      try {
        const mod = await runtime.load({ wasm, signatureFile }, { grants: CAPABILITIES });
        const m = mod.manifest;
        const memoryKiB = mod.info.memory.maxPages * 64;
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ ok: true, name: m.name, version: m.version, abi: m.abi, capabilities: m.capabilities, memory_max_kib: memoryKiB })}\n`
            : `ok: ${m.name}@${m.version}, ABI ${m.abi}, capabilities [${m.capabilities.join(', ')}], memory ${memoryKiB} KiB max\n`,
        );
      } catch (error) {
        if (!(error instanceof ModuleLoadError)) throw error;
        process.stdout.write(options.json ? `${JSON.stringify({ ok: false, code: error.code, message: error.message })}\n` : `refused: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
