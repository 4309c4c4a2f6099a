/**
 * `GET /v1/stream`: server-sent events. A `region` event carries a region's aggregates (the same JSON
 * as `GET /v1/regions/{region}`) whenever they change, coalesced to at most one per region per
 * interval, so a burst of readings costs one render per region, not one per reading. A new client
 * first gets a snapshot of every region, read page by page as it reads (stream-client.ts), so neither
 * the number of regions nor a slow client holds up the node or grows its memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError, RETRY_AFTER_SECONDS } from '../../http/index.js';
import { StreamClient, event, type SnapshotPage } from './stream-client.js';

export interface RegionStreamOptions {
  /** Renders a region's aggregates as JSON, or undefined if it is unknown. */
  render: (region: string) => string | undefined;
  /** One page of regions in name order, rendered, and the cursor of the next page (undefined: the last). */
  page: (cursor: string | undefined) => { regions: string[]; next: string | undefined };
  /** Minimum time between two events of the same region. @default 250 */
  intervalMs?: number;
  /** Comment lines that keep idle connections (and proxies) open. @default 15000 */
  heartbeatMs?: number;
  /** Streams open at once; more are answered 503 `too_many_streams`. @default 1000 */
  maxStreams?: number;
  /** Changed regions remembered for a client that is not reading; past it, it gets a fresh snapshot once it reads. @default 256 */
  maxPendingRegions?: number;
  /** A client that has read nothing for this long is closed (it may reconnect). @default 60000 */
  stallTimeoutMs?: number;
}

const MAX_CACHED_PAGES = 1000;

export class RegionStream {
  private readonly clients = new Set<StreamClient>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly intervalMs: number;
  private readonly maxStreams: number;
  private readonly stallTimeoutMs: number;
  private readonly limits: { maxPendingRegions: number };
  /**
   * Snapshot pages by cursor, shared by the clients that start together (and, being one Buffer, held once
   * however many slow clients wait to take it). Dropped whenever a region changes, so a client never gets a
   * page older than the changes it is sent afterwards.
   */
  private readonly pages = new Map<string, SnapshotPage>();
  private readonly source = { render: (region: string) => this.options.render(region), snapshotPage: (cursor: string | undefined) => this.snapshotPage(cursor) };

  constructor(private readonly options: RegionStreamOptions) {
    this.intervalMs = options.intervalMs ?? 250;
    this.maxStreams = options.maxStreams ?? 1000;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.limits = { maxPendingRegions: options.maxPendingRegions ?? 256 };
    const heartbeatMs = options.heartbeatMs ?? 15_000;
    // Stalled clients are looked for at least every 5 s, however long the heartbeat interval.
    const tickMs = Math.min(heartbeatMs, 5_000);
    let sinceHeartbeat = 0;
    this.heartbeat = setInterval(() => {
      sinceHeartbeat += tickMs;
      const beat = sinceHeartbeat >= heartbeatMs;
      if (beat) sinceHeartbeat = 0;
      this.tick(beat);
    }, tickMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Opens a stream: headers, then a snapshot of every region, then changes as they happen. */
  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.maxStreams) {
      sendError(res, 503, 'too_many_streams', `this node serves at most ${this.maxStreams} streams at once (max-streams); retry later`, {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      // Every answer carries it; the others get it from sendBody (src/http/respond.ts), in writeHead itself.
      'x-content-type-options': 'nosniff',
    });
    res.write(`retry: 2000\n\n`);
    const client = new StreamClient(res, this.source, this.limits);
    this.clients.add(client);
    const close = (): void => {
      client.close();
      this.clients.delete(client);
    };
    req.on('close', close);
    res.on('close', close);
    res.on('error', close);
    client.start();
  }

  /** Marks regions changed; their events go out within one interval. */
  changed(regions: Iterable<string>): void {
    this.pages.clear();
    if (this.clients.size === 0) return;
    for (const r of regions) this.dirty.add(r);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    for (const client of this.clients) {
      client.close();
      // A client that is not reading would hold the end back: cut it.
      if (client.blockedSince === undefined) client.res.end();
      else client.res.destroy();
    }
    this.clients.clear();
  }

  private flush(): void {
    this.timer = undefined;
    const regions = [...this.dirty];
    this.dirty.clear();
    const ready: StreamClient[] = [];
    for (const client of this.clients) {
      if (client.ready) ready.push(client);
      else for (const region of regions) client.remember(region);
    }
    // Clients that are behind only note the names: nothing is rendered for them until they catch up.
    if (ready.length === 0) return;
    for (const region of regions) {
      let data: string | undefined;
      try {
        data = this.options.render(region);
      } catch {
        continue; // not readable now (e.g. the store is unavailable): its next change sends it
      }
      if (data === undefined) continue;
      const chunk = Buffer.from(event(data));
      for (const client of ready) {
        if (client.ready) client.send(chunk);
        else client.remember(region);
      }
    }
  }

  private snapshotPage(cursor: string | undefined): SnapshotPage {
    const key = cursor ?? '';
    let page = this.pages.get(key);
    if (page === undefined) {
      const { regions, next } = this.options.page(cursor);
      page = { events: Buffer.from(regions.map(event).join('')), next };
      if (this.pages.size >= MAX_CACHED_PAGES) this.pages.clear();
      this.pages.set(key, page);
    }
    return page;
  }

  private tick(beat: boolean): void {
    const now = performance.now();
    for (const client of this.clients) {
      if (client.blockedSince !== undefined && now - client.blockedSince > this.stallTimeoutMs) {
        client.close();
        this.clients.delete(client);
        client.res.destroy();
      } else if (beat) {
        client.heartbeat();
      }
    }
  }
}
