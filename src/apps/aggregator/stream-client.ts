/**
 * One `GET /v1/stream` client, written to only as fast as it reads. Once a write finds its socket past the
 * high-water mark (16 KiB), nothing more is written until it drains: the regions that change meanwhile are
 * remembered by name (a region that changes 100 times costs one event, with its latest aggregates), and
 * when more regions change than it may remember, it gets a fresh snapshot instead. So what waits in the node
 * for a client is at most the high-water mark, one more chunk (an event or a snapshot page) and a bounded
 * set of names, whatever the client does; one that reads nothing for too long is closed.
 */
import type { ServerResponse } from 'node:http';

/** One page of the snapshot: its events, ready to write, and the cursor of the next page (undefined: the last). */
export interface SnapshotPage {
  events: Buffer;
  next: string | undefined;
}

/** What a client needs of its stream. */
export interface ClientSource {
  /** Renders a region's aggregates as JSON, or undefined if it is unknown. */
  render(region: string): string | undefined;
  /** A page of the snapshot, from a cursor (undefined: the first page). */
  snapshotPage(cursor: string | undefined): SnapshotPage;
}

export interface StreamClientLimits {
  /** Changed regions remembered for a slow client; past it, it gets a fresh snapshot once it drains. */
  maxPendingRegions: number;
}

export class StreamClient {
  /** Changed regions not sent yet: while the client is slow or its snapshot is under way. */
  private readonly pending = new Set<string>();
  /** The snapshot's next page: null when no snapshot is under way, undefined for the first page. */
  private cursor: string | undefined | null = undefined;
  private blocked = false;
  private scheduled = false;
  private closed = false;
  /** When the client stopped reading (performance.now()), or undefined. */
  blockedSince: number | undefined;

  constructor(
    readonly res: ServerResponse,
    private readonly source: ClientSource,
    private readonly limits: StreamClientLimits,
  ) {
    res.on('drain', () => {
      this.blocked = false;
      this.blockedSince = undefined;
      this.schedule();
    });
  }

  /** Starts sending: the snapshot, then the changes that came meanwhile. */
  start(): void {
    this.schedule();
  }

  /** Whether a change is written at once (send()); otherwise only its region is noted (remember()). */
  get ready(): boolean {
    return !this.blocked && !this.closed && this.cursor === null && this.pending.size === 0;
  }

  /** A region's new aggregates (`chunk`: its event, rendered once for every ready client). */
  send(chunk: Buffer): void {
    this.write(chunk);
  }

  /** A region changed while the client is not ready: it is sent when the client is. */
  remember(region: string): void {
    if (this.closed || this.cursor === undefined) return; // a snapshot from the start will carry it
    this.pending.add(region);
    if (this.pending.size > this.limits.maxPendingRegions) {
      this.pending.clear();
      this.cursor = undefined;
    }
  }

  /** A comment line that keeps the connection open; skipped while the client is not reading anyway. */
  heartbeat(): void {
    if (!this.blocked && !this.closed) this.write(': heartbeat\n\n');
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
  }

  private write(chunk: string | Buffer): void {
    // 'drain' follows only a write that returned false, so that is the one sign of a slow client.
    if (!this.res.write(chunk)) {
      this.blocked = true;
      this.blockedSince ??= performance.now();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // One page or a few regions per turn of the event loop, so a large snapshot does not hold up the node.
    setImmediate(() => {
      this.scheduled = false;
      try {
        this.pump();
      } catch {
        // The aggregates cannot be read now (e.g. the store is unavailable): the client reconnects later.
        this.close();
        this.res.destroy();
      }
    });
  }

  private pump(): void {
    if (this.blocked || this.closed) return;
    if (this.cursor !== null) {
      const page = this.source.snapshotPage(this.cursor);
      this.cursor = page.next ?? null;
      if (page.events.length > 0) this.write(page.events);
      this.schedule();
      return;
    }
    for (const region of this.pending) {
      if (this.blocked) break;
      this.pending.delete(region);
      const data = this.source.render(region);
      if (data !== undefined) this.write(event(data));
    }
  }
}

export function event(data: string): string {
  return `event: region\ndata: ${data}\n\n`;
}
