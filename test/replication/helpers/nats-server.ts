/**
 * A real `nats-server` with JetStream for tests: its own store directory, a random port on 127.0.0.1
 * (kept across restarts, so clients reconnect to the same URL), stopped and removed by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { MissingBinaryError } from '../../helpers/binaries.js';

/** The Debian package installs it in /usr/sbin, which is not on every user's PATH. */
export function findNatsServer(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return undefined;
}

export const NATS_SERVER = findNatsServer();

export class NatsServer {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(
    readonly dir: string,
    public port: number,
    /** More nats-server flags (TLS, authorization). */
    private readonly extraArgs: string[] = [],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server in a new temporary directory (`port` 0: a random one). */
  static async start(options: { port?: number; args?: string[] } = {}): Promise<NatsServer> {
    const server = new NatsServer(mkdtempSync(join(tmpdir(), 'edgeagg-nats-')), options.port ?? 0, options.args);
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    if (!NATS_SERVER) throw new MissingBinaryError('nats-server');
    const args = ['-js', '-sd', join(this.dir, 'jetstream'), '-a', '127.0.0.1', '-p', this.port === 0 ? '-1' : String(this.port), '-n', 'edgeagg-test', ...this.extraArgs];
    const child = spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const onData = (d: Buffer): void => {
      this.log += d.toString('utf8');
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start in 10 s:\n${this.log}`)), 10_000);
      const check = (): void => {
        const port = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(this.log);
        if (port && this.log.includes('Server is ready')) {
          this.port = Number(port[1]);
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${this.log}`));
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the server (SIGTERM: JetStream flushes its store; SIGKILL: it does not). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  /** Starts it again on the same port with the same store. */
  async restart(): Promise<void> {
    await this.stop();
    this.log = '';
    await this.launch();
  }

  /** Removes every message of the event stream: JetStream "lost" them. */
  async purgeStream(stream = 'EDGEAGG_EVENTS'): Promise<number> {
    const nc = await connect({ servers: this.url });
    try {
      const jsm = await jetstreamManager(nc);
      const { purged } = await jsm.streams.purge(stream);
      return purged;
    } finally {
      await nc.close();
    }
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
