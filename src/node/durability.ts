/** How the `durability`, `group-commit` and `commit-window-ms` settings are kept (README, "Durability"). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Settings } from './settings.js';

export interface DurabilityPlan {
  /** SQLite's own `synchronous` pragma. */
  sqliteSynchronous: 'full' | 'normal';
  /** The WAL is fdatasynced by the node before a commit group is acknowledged. */
  syncWal: boolean;
  /** At most this many requests share a transaction; undefined: no bound. */
  maxGroupSize: number | undefined;
  /** How long a commit group may wait for more requests (`commit-window-ms`; 0 without group commit). */
  commitWindowMs: number;
  /** The API's client connections, which tell a commit window when no more requests can come. */
  clients: ClientConnections;
  /** Groups are journaled and the database commits them every this many ms (`db-commit-interval-ms`); 0: no journal. */
  journalCommitMs: number;
}

/**
 * - full with group commit: SQLite appends without syncing, and the WAL is fdatasynced off the event
 *   loop before a group is acknowledged (the guarantee of synchronous=FULL, pipelined);
 * - full without group commit: SQLite's own synchronous=FULL, one transaction and fsync per request;
 * - normal: no fsync at all; the OS writes later (a crash of the process loses nothing, a power cut may).
 * With group commit, a group waits up to `commit-window-ms` for more requests when they arrive slowly: one
 * WAL append and fsync then covers them all (docs/operations.md, "Flash wear and the commit window"). With
 * full durability and group commit, groups are journaled and the database commits them every
 * `db-commit-interval-ms` (./group-durability.ts).
 */
export function durabilityPlan(settings: Settings): DurabilityPlan {
  const group = settings['group-commit'];
  const window = { commitWindowMs: group ? settings['commit-window-ms'] : 0, clients: new ClientConnections(), journalCommitMs: 0 };
  if (settings.durability === 'normal') return { sqliteSynchronous: 'normal', syncWal: false, maxGroupSize: group ? undefined : 1, ...window };
  return group
    ? { sqliteSynchronous: 'normal', syncWal: true, maxGroupSize: undefined, ...window, journalCommitMs: settings['db-commit-interval-ms'] }
    : { sqliteSynchronous: 'full', syncWal: false, maxGroupSize: 1, ...window };
}

/** See ClientConnections.moreMayCome. */
const FREE_PER_WAITING = 4;

/**
 * The API's keep-alive connections that write, and how many are free to send a request: one that has sent
 * a write (not a GET or HEAD: dashboards and metric scrapers do not count) and waits for no answer. While
 * one is, a commit window may gather more; when none is, every writing client is waiting for an answer (or
 * connects anew per request) and waiting longer would only delay them. The server closes a connection idle
 * for 5 s (keepAliveTimeout), so only connections in use count for long.
 */
export class ClientConnections {
  /** Per connection that has sent a request: its requests not yet answered. */
  private readonly inFlight = new Map<Socket, number>();
  private idle = 0;

  /** Follows the requests of `server` (HTTP or HTTPS). */
  watch(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') this.started(req.socket, res);
      else if (this.inFlight.has(req.socket)) this.started(req.socket, res);
    });
  }

  /**
   * Writing connections free to send a request outnumber the group's requests (`waiting`) FREE_PER_WAITING to
   * one. Many independent devices keep that true for a whole window; clients that wait for each answer end
   * it once a fifth of them are in: the group goes, and the rest form the next one while it commits. Waiting
   * for all of them would hold them back by the slowest, with the node idle meanwhile (measured: 13% fewer
   * single readings per second at 16 connections when waiting for half of them; BENCHMARKS.md).
   */
  readonly moreMayCome = (waiting: number): boolean => this.idle > FREE_PER_WAITING * waiting;

  private started(socket: Socket, res: ServerResponse): void {
    const n = this.inFlight.get(socket);
    if (n === undefined) {
      socket.once('close', () => {
        if (this.inFlight.get(socket) === 0) this.idle--;
        this.inFlight.delete(socket);
      });
    } else if (n === 0) {
      this.idle--;
    }
    this.inFlight.set(socket, (n ?? 0) + 1);
    res.once('close', () => {
      const left = this.inFlight.get(socket);
      if (left === undefined) return;
      this.inFlight.set(socket, left - 1);
      if (left === 1) this.idle++;
    });
  }
}

