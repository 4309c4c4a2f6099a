/** Servers under benchmark, as real processes: start one, find where it listens, stop it. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const LAUNCHER = fileURLToPath(new URL('../../bin/edgeagg.js', import.meta.url));

/**
 * The Node flags users' nodes run with: those of bin/edgeagg.js's `#!/usr/bin/env -S node ...` line. A node
 * under benchmark is `node FLAGS dist/src/cli/main.js serve ...`, which is what the launcher runs, and leaves
 * room for more flags (`--cpu-prof`, which NODE_OPTIONS does not take).
 */
export function launcherFlags(): string[] {
  const shebang = readFileSync(LAUNCHER, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --\S+)*)$/.exec(shebang);
  if (!m) throw new Error(`unexpected first line in ${LAUNCHER}: ${shebang}`);
  return m[1]!.trim().split(' ').filter(Boolean);
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system, all threads) a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
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
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
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

/** Benchmarks drive a node with one token: per-client rate limits would measure the limit, not the node. */
export const NO_CLIENT_LIMITS = ['--rate-limit-per-token', '0', '--rate-limit-per-device', '0'];

/** Runs `fn` against a fresh `edgeagg serve` with its own data directory, removed afterwards. */
export async function withNode<T>(
  options: { flags?: string[]; env?: Record<string, string> },
  fn: (node: { url: string; dataDir: string; pid: number }) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeagg-bench-'));
  try {
    const server = await startListening(
      [...launcherFlags(), CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...NO_CLIENT_LIMITS, ...(options.flags ?? [])],
      options.env,
    );
    try {
      return await fn({ url: server.url, dataDir, pid: server.child.pid! });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
