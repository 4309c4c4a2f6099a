/** Servers under benchmark, as real processes: start one, find where it listens, stop it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node ARGS` and resolves once it prints "listening on http://...". */
export async function startListening(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** Runs `fn` against a fresh `edgeagg serve` with its own data directory, removed afterwards. */
export async function withNode<T>(
  options: { flags?: string[]; env?: Record<string, string> },
  fn: (node: { url: string; dataDir: string; pid: number }) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeagg-bench-'));
  try {
    const server = await startListening([CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...(options.flags ?? [])], options.env);
    try {
      return await fn({ url: server.url, dataDir, pid: server.child.pid! });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
