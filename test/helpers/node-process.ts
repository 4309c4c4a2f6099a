/**
 * A real node process for integration tests: `edgeagg serve` from dist/, on loopback, with its
 * own data directory, stopped (or killed) and cleaned up by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken, readNodeKey, type Scope } from '../../src/auth/tokens.js';
import { ROOT } from './guests.js';

export interface NodeProcessOptions {
  dataDir?: string;
  /** Extra `serve` flags, e.g. { 'grace-period-ms': '60000' }. */
  flags?: Record<string, string>;
  env?: Record<string, string>;
}

export class NodeProcess {
  stdout = '';
  stderr = '';
  url = '';

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
  ) {}

  static async start(options: NodeProcessOptions = {}): Promise<NodeProcess> {
    const ownsDataDir = !options.dataDir;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'edgeagg-node-'));
    const args = [join(ROOT, 'dist/src/cli/main.js'), 'serve', '--port', '0', '--data-dir', dataDir];
    for (const [k, v] of Object.entries(options.flags ?? {})) args.push(`--${k}`, v);
    const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const node = new NodeProcess(child, dataDir, ownsDataDir);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (node.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (node.stderr += d));
    node.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not start in 15 s:\n${node.stdout}\n${node.stderr}`)), 15_000);
      const check = (): void => {
        const m = /listening on (https?:\/\/\S+)/.exec(node.stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node exited with ${code}:\n${node.stdout}\n${node.stderr}`));
      });
    });
    return node;
  }

  token(scope: Scope, subject?: string, ttlSeconds?: number): Promise<string> {
    return issueToken(readNodeKey(this.dataDir), { scope, subject, ttlSeconds });
  }

  async fetch(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    return fetch(`${this.url}${path}`, { ...init, headers });
  }

  /**
   * POSTs `readings` to /v1/readings as JSON: one reading, a batch, or any other value (a wrong body on
   * purpose). `headers` are added to (or replace) the JSON content type.
   */
  postReadings(readings: unknown, token?: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch('/v1/readings', { method: 'POST', token, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(readings) });
  }

  /** SIGTERM and wait for a graceful exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }

  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  cleanup(): void {
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
