import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CAPABILITIES, MemoryStore, ModuleLoadError, Runtime } from '../runtime/index.js';

/** `edgeagg verify`: runs every load-time check the node would run, without serving. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("check a module's signature, hash, ABI, imports and limits as the node would when loading it")
    .argument('<module>', 'the .wasm file')
    .requiredOption('--trusted <file...>', 'trusted public keys (PEM)')
    .option('--sig <file>', 'signature file (default MODULE.sig.json)')
    .action(async (modulePath: string, options: { trusted: string[]; sig?: string }) => {
      const wasm = readFileSync(modulePath);
      let signatureFile: unknown;
      try {
        signatureFile = JSON.parse(readFileSync(options.sig ?? `${modulePath}.sig.json`, 'utf8'));
      } catch {
        signatureFile = undefined;
      }
      const runtime = new Runtime({ store: new MemoryStore(), trustedKeys: options.trusted.map((f) => readFileSync(f, 'utf8')) });
      try {
        const mod = await runtime.load({ wasm, signatureFile }, { grants: CAPABILITIES });
        const m = mod.manifest;
        process.stdout.write(`ok: ${m.name}@${m.version}, ABI ${m.abi}, capabilities [${m.capabilities.join(', ')}], ` +
          `memory ${mod.info.memory.maxPages * 64} KiB max\n`);
      } catch (error) {
        if (!(error instanceof ModuleLoadError)) throw error;
        process.stdout.write(`refused: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
