/** Servers under benchmark, as real processes: start one, find where it listens, stop it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `edgeagg` command as users start it (bin/edgeagg.js: it carries the node's V8 settings). */
export const EDGEAGG = fileURLToPath(new URL('../../bin/edgeagg.js', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `COMMAND ARGS` (by default `node ARGS`) and resolves once it prints "listening on http://...".
 */
export async function startListening(args: string[], env: Record<string, string> = {}, command = process.execPath): Promise<ServerProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${command} ${args[0]} exited ${code}`)));
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
    const server = await startListening(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...(options.flags ?? [])], options.env, EDGEAGG);
    try {
      return await fn({ url: server.url, dataDir, pid: server.child.pid! });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
