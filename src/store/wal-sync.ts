/**
 * Durability without blocking: the database runs with `synchronous=NORMAL` (a commit appends its
 * frames to the WAL without an fsync), and the group committer asks this syncer to `fdatasync` the
 * WAL file on libuv's thread pool before it acknowledges a group. That is the guarantee of
 * `synchronous=FULL` (the WAL is synced after every commit, before the answer goes out), but the
 * event loop keeps parsing and executing the next group while the disk works.
 *
 * Why this is sound: fsync and fdatasync act on the file (the inode), not on the descriptor, so
 * syncing our own descriptor of the WAL flushes the frames SQLite wrote through its own. SQLite keeps
 * the WAL file while a connection is open (it is truncated after checkpoints, never replaced), and
 * with `synchronous=NORMAL` it still syncs the WAL before each checkpoint and the database after.
 */
import { closeSync, existsSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';

export class WalSyncer {
  private fd: number | undefined;
  private inode = 0;
  /** When the descriptor was last checked against the file at the path (performance.now()). */
  private checkedAt = 0;
  /** The sync in progress, and whoever waits for the one after it. */
  private running: Promise<void> | undefined;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private closed = false;

  constructor(private readonly walPath: string) {}

  /**
   * Resolves once everything written to the WAL before this call is on disk. Calls that arrive
   * while a sync runs share the next one: one fdatasync per group of groups under load.
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the WAL syncer is closed'));
    if (!this.running) {
      this.running = this.runSync();
      return this.running;
    }
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
    }
    return this.next.promise;
  }

  close(): void {
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private async runSync(): Promise<void> {
    try {
      const fd = this.descriptor();
      if (fd !== undefined) {
        await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
      }
    } finally {
      const waiting = this.next;
      this.next = undefined;
      this.running = waiting ? this.runSync() : undefined;
      if (waiting) this.running!.then(waiting.resolve, waiting.reject);
    }
  }

  /** Our descriptor of the WAL, reopened if the file was replaced; undefined before it exists. */
  private descriptor(): number | undefined {
    if (this.fd !== undefined) {
      // A guard against a WAL deleted and recreated under us (it should never happen while SQLite has it
      // open), at most once per second: on every sync its three system calls cost ~2% of a small group.
      const now = performance.now();
      if (now - this.checkedAt < 1_000) return this.fd;
      if (existsSync(this.walPath) && statSync(this.walPath).ino === this.inode) {
        this.checkedAt = now;
        return this.fd;
      }
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (!existsSync(this.walPath)) return undefined;
    this.fd = openSync(this.walPath, 'r');
    this.inode = fstatSync(this.fd).ino;
    this.checkedAt = performance.now();
    return this.fd;
  }
}
