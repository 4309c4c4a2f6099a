/**
 * The node's connection to NATS: one guarded loop that connects, runs a session while the connection
 * lives, and reconnects with backoff and jitter when it drops. The client's own reconnection is off, so
 * this loop is the only one, and every session starts from a clean connection (subscriptions, consumers
 * and the publisher are set up again by the session).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../telemetry/index.js';
import { backoffDelay, sleep, type BackoffPolicy } from '../resilience/index.js';
import { RECONNECT_BACKOFF } from './backoff.js';
import { natsConnectOptions, type NatsAuthOptions } from './nats-auth.js';

/** Where the connection is; `since` is a Unix time in milliseconds. */
export type ConnectionStatus =
  | { state: 'connecting'; since: number; attempt: number }
  | { state: 'connected'; since: number; server: string }
  | { state: 'disconnected'; since: number; error: string; retryInMs: number }
  | { state: 'stopped'; since: number };

export interface FleetConnectionOptions {
  /** NATS server URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string[];
  /** The client name the server shows (the node id). */
  name: string;
  /** TLS and credentials for the servers (./nats-auth.ts). @default none: plain, anonymous */
  auth?: NatsAuthOptions;
  /**
   * Runs while a connection lives: sets up what uses it and resolves once `signal` aborts (the connection
   * closed, or the node stops). It may also resolve or throw early; the connection is then closed and made
   * again after a backoff.
   */
  session: (nc: NatsConnection, signal: AbortSignal) => Promise<void>;
  /** @default RECONNECT_BACKOFF: 250 ms doubling to 5 s, 50% jitter */
  backoff?: BackoffPolicy;
  /** Milliseconds to wait for a server to answer a connection attempt. @default 2000 */
  connectTimeoutMs?: number;
  /** Milliseconds between client pings; two unanswered pings close a stale connection. @default 5000 */
  pingIntervalMs?: number;
  logger: Logger;
}

export class FleetConnection {
  private current: ConnectionStatus = { state: 'stopped', since: Date.now() };
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly watchers = new Set<(status: ConnectionStatus) => void>();

  constructor(private readonly options: FleetConnectionOptions) {}

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Every status from now on, as it changes, until the connection is stopped. */
  async *statuses(): AsyncIterableIterator<ConnectionStatus> {
    const queue: ConnectionStatus[] = [this.current];
    let wake: (() => void) | undefined;
    const watcher = (s: ConnectionStatus): void => {
      queue.push(s);
      wake?.();
    };
    this.watchers.add(watcher);
    try {
      for (;;) {
        while (queue.length > 0) {
          const s = queue.shift()!;
          yield s;
          if (s.state === 'stopped' && this.stopping.signal.aborted) return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(watcher);
    }
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.set({ state: 'stopped', since: Date.now() });
  }

  private set(status: ConnectionStatus): void {
    this.current = status;
    for (const w of this.watchers) w(status);
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const backoff = this.options.backoff ?? RECONNECT_BACKOFF;
    const stop = this.stopping.signal;
    let attempt = 0;
    while (!stop.aborted) {
      this.set({ state: 'connecting', since: Date.now(), attempt });
      let nc: NatsConnection;
      try {
        nc = await connect({
          ...natsConnectOptions(this.options.auth ?? {}),
          servers: this.options.servers,
          name: this.options.name,
          reconnect: false,
          timeout: this.options.connectTimeoutMs ?? 2_000,
          pingInterval: this.options.pingIntervalMs ?? 5_000,
          maxPingOut: 2,
          // Each JetStream publish is a request; capturing a stack trace for every one of them cost more
          // CPU than the rest of the publish (measured: 10% of a catch-up).
          noAsyncTraces: true,
        });
      } catch (error) {
        const retryInMs = backoffDelay(backoff, attempt++);
        this.set({ state: 'disconnected', since: Date.now(), error: message(error), retryInMs });
        if (attempt === 1 || attempt % 20 === 0) logger.warn('NATS unreachable; retrying', { servers: this.options.servers, error: message(error), retryInMs });
        await sleep(retryInMs, stop);
        continue;
      }
      attempt = 0;
      const server = nc.getServer();
      this.set({ state: 'connected', since: Date.now(), server });
      logger.info('connected to NATS', { server });
      const session = new AbortController();
      const closed = nc.closed().then((error) => error);
      const onStop = (): void => session.abort();
      stop.addEventListener('abort', onStop, { once: true });
      void closed.then(() => session.abort());
      let sessionError: unknown;
      try {
        await this.options.session(nc, session.signal);
      } catch (error) {
        sessionError = error;
      }
      session.abort();
      stop.removeEventListener('abort', onStop);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
      const closeError = await closed;
      if (stop.aborted) break;
      const error = message(sessionError ?? closeError ?? 'connection closed');
      const retryInMs = backoffDelay(backoff, attempt++);
      this.set({ state: 'disconnected', since: Date.now(), error, retryInMs });
      logger.warn('disconnected from NATS; reconnecting', { server, error, retryInMs });
      await sleep(retryInMs, stop);
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
