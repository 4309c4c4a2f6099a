/**
 * The sensor aggregation service as an app the node mounts: its routes (`POST /v1/readings`, the
 * region reads, the live stream), what it knows about regions, and the counters it shows in
 * `GET /v1/node`. The host knows none of this; it mounts the routes and forwards the hooks.
 */
import type { Route } from '../../http/index.js';
import { guestReadHandler, guestWriteHandler, type GuestRoutesOptions } from '../guest-routes.js';
import { readingsSplitter } from './batch-routing.js';
import { DeviceDirectory, type ReadLogPage } from './device-directory.js';
import { GuestCounters, type ReadingCounts } from './guest-counters.js';
import { RegionStream } from './region-stream.js';
import type { StoredEvent } from '../../runtime/index.js';

const WRITE_SCOPES = ['device', 'gateway', 'admin'] as const;
const READ_SCOPES = ['read', 'admin'] as const;

export interface AggregatorAppOptions extends GuestRoutesOptions {
  /** `GET /v1/stream` connections open at once; more are answered 503 `too_many_streams`. @default 1000 */
  maxStreams?: number;
  /** Devices `GET /v1/devices` remembers; past it the least recently seen are forgotten. @default 100000 */
  maxDevicesTracked?: number;
  /** Reads the app's event log a page at a time, to seed the device directory in the background ({@link AggregatorApp.start}). @default none */
  readLog?: ReadLogPage;
}

/** Regions per snapshot page of the stream: small, so what waits for a slow client stays small. */
const SNAPSHOT_PAGE = 50;

export class AggregatorApp {
  readonly routes: Route[];
  /** `GET /v1/stream`: region events as readings are folded. */
  readonly stream: RegionStream;
  private readonly counters = new GuestCounters();
  /** `GET /v1/devices`: last seen, region and readings per device, in memory only. */
  readonly devices: DeviceDirectory;

  constructor(private readonly options: AggregatorAppOptions) {
    this.stream = new RegionStream({
      render: (region) => this.render(region),
      page: (cursor) => this.page(cursor),
      maxStreams: options.maxStreams,
    });
    // A gateway's batch may hold devices on both sides of a canary: split by each reading's device_id.
    const write = guestWriteHandler({ ...options, splitter: readingsSplitter });
    const read = guestReadHandler(options);
    this.devices = new DeviceDirectory({ maxDevices: options.maxDevicesTracked });
    this.routes = [
      { method: 'POST', template: '/v1/readings', scopes: WRITE_SCOPES, handle: write },
      { method: 'GET', template: '/v1/regions', scopes: READ_SCOPES, handle: read },
      { method: 'GET', template: '/v1/regions/{region}', scopes: READ_SCOPES, handle: read },
      { method: 'GET', template: '/v1/regions/{region}/series', scopes: READ_SCOPES, handle: read },
      // Any other path under a region: the guest answers it (404 with its own code).
      { method: 'GET', template: '/v1/regions/{region}/*', scopes: READ_SCOPES, handle: read },
      { method: 'GET', template: '/v1/stream', scopes: READ_SCOPES, queryToken: true, handle: (ctx) => this.stream.open(ctx.req, ctx.res) },
      { method: 'GET', template: '/v1/devices', scopes: READ_SCOPES, handle: (ctx) => this.devices.answer(ctx.res, ctx.query) },
    ];
  }

  /** The write path folded readings of these regions: their stream events go out. */
  folded(regions: Iterable<string>): void {
    this.stream.changed(regions);
  }

  /** The node is serving: the device directory reads the event log in the background (never blocking ingest). */
  start(): void {
    const { readLog, onError } = this.options;
    if (readLog) void this.devices.seed(readLog).catch((error: unknown) => onError(error, 'cannot read the event log to list devices'));
  }

  /** The write path committed these new events (local or replicated): the device directory learns of them. */
  committed(events: readonly StoredEvent[]): void {
    this.devices.received(events);
  }

  /** A counter the guest added to (`metric_add`). */
  counted(name: string, value: number): void {
    this.counters.add(name, value);
  }

  /** Readings accepted, duplicated and rejected since start, for `GET /v1/node`. */
  readingCounts(): ReadingCounts {
    return this.counters.snapshot();
  }

  close(): void {
    this.devices.close();
    this.stream.close();
  }

  /** The stream reads the aggregates as the API does: after folding what waits. */
  private get(path: string, query = ''): { status: number; body: Uint8Array } {
    const module = this.options.versions.stable();
    return this.options
      .pipeline()
      .read(() => module.invokeHttp({ method: 'GET', path, query, contentType: '', principal: { kind: 'read', subject: 'stream' }, body: new Uint8Array(0) }));
  }

  private render(region: string): string | undefined {
    const res = this.get(`/v1/regions/${region}`);
    return res.status === 200 ? Buffer.from(res.body).toString('utf8') : undefined;
  }

  /** A page of the snapshot, as `GET /v1/regions` pages it; each region re-serialized as its own event. */
  private page(cursor: string | undefined): { regions: string[]; next: string | undefined } {
    const query = cursor === undefined ? `limit=${SNAPSHOT_PAGE}` : `limit=${SNAPSHOT_PAGE}&cursor=${encodeURIComponent(cursor)}`;
    const res = this.get('/v1/regions', query);
    if (res.status !== 200) throw new Error(`GET /v1/regions answered ${res.status}`);
    const body = JSON.parse(Buffer.from(res.body).toString('utf8')) as { regions: unknown[]; next_cursor: string | null };
    return { regions: body.regions.map((r) => JSON.stringify(r)), next: body.next_cursor ?? undefined };
  }
}
