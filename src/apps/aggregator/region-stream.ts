/**
 * `GET /v1/stream`: server-sent events. A `region` event carries a region's aggregates (the same JSON
 * as `GET /v1/regions/{region}`) whenever they change, coalesced to at most one per region per
 * interval, so a burst of readings costs one render per region, not one per reading.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RegionStreamOptions {
  /** Renders a region's aggregates as JSON, or undefined if it is unknown. */
  render: (region: string) => string | undefined;
  /** All regions, for the snapshot a new client gets. */
  regions: () => string[];
  /** Minimum time between two events of the same region. @default 250 */
  intervalMs?: number;
  /** Comment lines that keep idle connections (and proxies) open. @default 15000 */
  heartbeatMs?: number;
}

export class RegionStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly intervalMs: number;

  constructor(private readonly options: RegionStreamOptions) {
    this.intervalMs = options.intervalMs ?? 250;
    this.heartbeat = setInterval(() => this.broadcast(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Opens a stream: headers, then a snapshot of every region, then changes as they happen. */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    for (const region of this.options.regions()) {
      const data = this.options.render(region);
      if (data !== undefined) res.write(event(data));
    }
    this.clients.add(res);
    const close = (): void => {
      this.clients.delete(res);
    };
    req.on('close', close);
    res.on('error', close);
  }

  /** Marks regions changed; their events go out within one interval. */
  changed(regions: Iterable<string>): void {
    if (this.clients.size === 0) return;
    for (const r of regions) this.dirty.add(r);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private flush(): void {
    this.timer = undefined;
    const regions = [...this.dirty];
    this.dirty.clear();
    for (const region of regions) {
      const data = this.options.render(region);
      if (data !== undefined) this.broadcast(event(data));
    }
  }

  private broadcast(chunk: string): void {
    for (const res of this.clients) res.write(chunk);
  }
}

function event(data: string): string {
  return `event: region\ndata: ${data}\n\n`;
}
