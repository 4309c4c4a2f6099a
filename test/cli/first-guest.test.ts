/** docs/first-guest.md runs as written, for each language: `edgeagg new`, `edgeagg build`, a node serving the guest. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const LANGUAGES = { as: 'AssemblyScript', rust: 'Rust', c: 'C' } as const;

/** The ```sh blocks that follow an `<!-- example` marker, under each `## ` heading. */
function examples(file: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const section of readFileSync(join(ROOT, file), 'utf8').split(/^## /m).slice(1)) {
    const block = /<!-- example[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(section);
    if (block) blocks.set(section.slice(0, section.indexOf('\n')), block[1]!);
  }
  return blocks;
}

/** Runs `script` with bash -x, each traced command stamped with the time; kills what it started when done. */
function runBlock(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; trace: string }> {
  return new Promise((resolve) => {
    // bash ignores PS4 from the environment when run as root.
    const child = spawn('bash', ['-euo', 'pipefail', '-c', `PS4='+$EPOCHREALTIME '; set -x\n${script}`], { cwd: ROOT, env, detached: true });
    let stdout = '';
    let trace = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (trace += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    let code: number | null = null;
    child.on('exit', (c) => {
      clearTimeout(timer);
      code = c;
      // The node it started in the background, if the block failed before its `kill` (it holds stdout open).
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
    });
    child.on('close', () => resolve({ code, stdout, trace }));
  });
}

/** Seconds between the first traced command containing `from` and the last containing `to`. */
function elapsed(trace: string, from: string, to: string): number {
  const stamped = trace.split('\n').map((l) => /^\++(\d+\.\d+) (.*)$/.exec(l)).filter((m) => m !== null);
  const start = stamped.find((m) => m[2]!.includes(from));
  const end = stamped.filter((m) => m[2]!.includes(to)).at(-1);
  return Number(end![1]) - Number(start![1]);
}

/**
 * What the blocks could have left in the checkout that was not there before (other work in the same
 * checkout may change other files meanwhile): the blocks must write only into their temp folder.
 */
function leftInCheckout(before: string, after: string): string[] {
  const old = new Set(before.split('\n'));
  return after.split('\n').filter((l) => l && !old.has(l) && /hello|\.pem|\.wasm|\.rlib|^.. (templates|guests|data)\//.test(l));
}

const status = () => spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '--ignored'], { cwd: ROOT, encoding: 'utf8' }).stdout;

describe('docs/first-guest.md', () => {
  const blocks = examples('docs/first-guest.md');

  for (const [lang, heading] of Object.entries(LANGUAGES)) {
    it(`${heading}: new, build and serve answer with a greeting and a call count, outside the checkout`, async () => {
      const block = blocks.get(heading);
      expect(block, `no example block under "## ${heading}"`).toBeDefined();
      expect(block).toContain(`--lang ${lang}`);
      const tmp = tempDir(`first-guest-${lang}`);
      const port = String(await freePort());
      const before = status();
      // `edgeagg` on PATH, as an installed package puts it.
      symlinkSync(join(ROOT, 'bin', 'edgeagg.js'), join(tmp, 'edgeagg'));
      const env = { ...process.env, TMPDIR: tmp, PATH: `${tmp}${delimiter}${process.env.PATH ?? ''}` };
      const run = await runBlock(block!.replaceAll('8799', port), env);
      expect(run.code, run.trace).toBe(0);
      expect(run.stdout).toContain('{"hello":"you","calls":1}');
      expect(run.stdout).toContain('{"hello":"hello","calls":2}');
      expect(leftInCheckout(before, status())).toEqual([]);
      const seconds = elapsed(run.trace, 'edgeagg new', '/v1/regions');
      console.log(`first-guest ${lang}: edgeagg new to a serving guest in ${seconds.toFixed(1)} s`);
    }, 60_000);
  }
});

describe('edgeagg new and build', () => {
  const edgeagg = (env: NodeJS.ProcessEnv, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

  it('refuses an unknown language, a bad name and a non-empty folder', () => {
    const dir = tempDir('new');
    expect(edgeagg({}, 'new', 'x', '--lang', 'go', '--dir', dir).stderr).toContain('expected one of as, rust, c');
    expect(edgeagg({}, 'new', 'Bad Name', '--lang', 'c', '--dir', dir).stderr).toContain('invalid name');
    mkdirSync(join(dir, 'empty'));
    expect(edgeagg({}, 'new', 'empty', '--lang', 'c', '--dir', dir).status).toBe(0);
    const again = edgeagg({}, 'new', 'empty', '--lang', 'c', '--dir', dir);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('is not empty');
  });

  it('says which toolchain is missing, and writes no module', () => {
    const dir = tempDir('build');
    expect(edgeagg({}, 'keygen', '--out', join(dir, 'k')).status).toBe(0);
    expect(edgeagg({}, 'new', 'hi', '--lang', 'c', '--dir', dir).status).toBe(0);
    const r = edgeagg({ EA_CLANG: join(dir, 'no-clang') }, 'build', join(dir, 'hi'), '--key', join(dir, 'k.key.pem'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no-clang not found');
    expect(existsSync(join(dir, 'hi', 'build', 'hi.wasm'))).toBe(false);
    expect(edgeagg({}, 'build', dir, '--key', join(dir, 'k.key.pem')).stderr).toContain('not a guest project');
  });
});
