/**
 * What the node knows of each device, for `GET /v1/devices`: its last reading, when this node last received
 * one, its region and how many it sent since start. Kept in memory only, fed by the events the write path
 * commits (local and replicated), and seeded at start from the retained event log in the background: the
 * event log is the truth, and a directory that wrote to the store would add bytes per reading to the flash
 * (issue 17). Every field is a max or a count over events, so the order events arrive in does not matter.
 */
import type { ServerResponse } from 'node:http';
import { sendError, sendJson } from '../../http/index.js';
import type { StoredEvent } from '../../runtime/index.js';

export interface DeviceDirectoryOptions {
  /** Devices remembered; past it the least recently seen are forgotten and answers say `capped`. @default 100000 */
  maxDevices?: number;
  /** The node's clock, in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** One device as `GET /v1/devices` shows it. */
export interface DeviceView {
  device_id: string;
  /** The region of its newest reading. */
  region: string;
  /** The newest reading's timestamp: what "last seen" means here, the same on every node of a fleet. */
  last_reading_ms: number;
  /** When this node last received a new reading of it (node clock); null when known only from the log. */
  last_received_ms: number | null;
  /** New readings received since this node started (local and replicated). */
  readings: number;
}

export interface DeviceQuery {
  region?: string;
  /** Only devices whose newest reading is older than this (silent sensors), oldest first. */
  silentForMs?: number;
  limit: number;
  after?: DeviceCursor;
}

export interface DevicePage {
  devices: DeviceView[];
  next_cursor: string | null;
  /** Devices remembered now. */
  tracked: number;
  /** Devices were forgotten to stay within `max-devices-tracked`: the list may miss the quietest. */
  capped: boolean;
  /** The event log is still being read at start: devices seen only before the start may be missing. */
  seeding: boolean;
}

/** A page of the event log, as SqliteStore's `readEvents` gives it. */
export type ReadLogPage = (after: { timeMs: number; source: string } | undefined, limit: number) => {
  events: StoredEvent[];
  next: { timeMs: number; source: string } | undefined;
};

type Order = 'newest' | 'oldest';

/** A position in one order: the device the previous page ended with. */
export interface DeviceCursor {
  order: Order;
  lastReadingMs: number;
  deviceId: string;
}

interface Entry {
  region: string;
  lastReadingMs: number;
  lastReceivedMs: number | null;
  readings: number;
}

export const DEFAULT_MAX_DEVICES = 100_000;
export const DEFAULT_DEVICE_PAGE = 100;
export const MAX_DEVICE_PAGE = 1000;
/** Events read from the log per step of the seed; the event loop runs between steps. */
const SEED_PAGE = 1000;

export class DeviceDirectory {
  private readonly devices = new Map<string, Entry>();
  private readonly maxDevices: number;
  /** Held past the cap before a compaction forgets the oldest: forgetting is amortized, not per reading. */
  private readonly slack: number;
  private readonly now: () => number;
  private forgotten = 0;
  private seedingNow = false;
  private closed = false;

  constructor(options: DeviceDirectoryOptions = {}) {
    this.maxDevices = Math.max(1, Math.floor(options.maxDevices ?? DEFAULT_MAX_DEVICES));
    this.slack = Math.max(1, Math.floor(this.maxDevices / 16));
    this.now = options.now ?? Date.now;
  }

  /** Devices remembered (up to the cap, once compacted). */
  get size(): number {
    this.compact();
    return this.devices.size;
  }

  get capped(): boolean {
    return this.forgotten > 0;
  }

  /** New events the write path committed: each counts as a reading received now. */
  received(events: readonly StoredEvent[]): void {
    const now = this.now();
    for (const e of events) this.apply(e, now);
    if (this.devices.size > this.maxDevices + this.slack) this.compact();
  }

  /** Events read back from the log: they set what was last seen, but were not received since start. */
  seen(events: readonly StoredEvent[]): void {
    for (const e of events) this.apply(e, undefined);
    if (this.devices.size > this.maxDevices + this.slack) this.compact();
  }

  /**
   * Reads the whole log a page at a time, yielding to the event loop between pages so that start and
   * ingest never wait for it. Resolves when done or closed; a failed read ends the seed (the directory
   * then knows the devices seen since start, and the ones read so far).
   */
  async seed(read: ReadLogPage): Promise<void> {
    this.seedingNow = true;
    try {
      let after: { timeMs: number; source: string } | undefined;
      do {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.closed) return;
        const page = read(after, SEED_PAGE);
        this.seen(page.events);
        after = page.next;
      } while (after !== undefined);
    } finally {
      this.seedingNow = false;
    }
  }

  /** Stops a running seed at its next page. */
  close(): void {
    this.closed = true;
  }

  /** One page of the devices, filtered and ordered as `query` says. */
  page(query: DeviceQuery): DevicePage {
    this.compact();
    const order: Order = query.silentForMs === undefined ? 'newest' : 'oldest';
    // `a` before `b` in the answer's order.
    const before = order === 'oldest' ? (a: Key, b: Key) => compareKeys(a, b) < 0 : (a: Key, b: Key) => compareKeys(a, b) > 0;
    const silentBefore = query.silentForMs === undefined ? undefined : this.now() - query.silentForMs;
    const after = query.after;
    const best = new BoundedHeap(query.limit + 1, (a, b) => before(b, a));
    for (const [id, e] of this.devices) {
      if (query.region !== undefined && e.region !== query.region) continue;
      if (silentBefore !== undefined && !(e.lastReadingMs < silentBefore)) continue;
      const key: Key = { ms: e.lastReadingMs, id };
      if (after && !before({ ms: after.lastReadingMs, id: after.deviceId }, key)) continue;
      best.offer(key);
    }
    const keys = best.drain().sort((a, b) => (before(a, b) ? -1 : 1));
    const more = keys.length > query.limit;
    const shown = more ? keys.slice(0, query.limit) : keys;
    const last = shown[shown.length - 1];
    return {
      devices: shown.map((k) => view(k.id, this.devices.get(k.id)!)),
      next_cursor: more && last ? encodeCursor({ order, lastReadingMs: last.ms, deviceId: last.id }) : null,
      tracked: this.devices.size,
      capped: this.capped,
      seeding: this.seedingNow,
    };
  }

  /** `GET /v1/devices`: parses the query and answers a page, or 400 with what is wrong. */
  answer(res: ServerResponse, rawQuery: string): void {
    const parsed = parseDeviceQuery(rawQuery);
    if ('error' in parsed) {
      sendError(res, 400, parsed.error.code, parsed.error.message);
      return;
    }
    sendJson(res, 200, this.page(parsed));
  }

  private apply(e: StoredEvent, receivedAt: number | undefined): void {
    const entry = this.devices.get(e.source);
    if (!entry) {
      this.devices.set(e.source, { region: e.partition, lastReadingMs: e.timeMs, lastReceivedMs: receivedAt ?? null, readings: receivedAt === undefined ? 0 : 1 });
      return;
    }
    if (e.timeMs > entry.lastReadingMs) {
      entry.lastReadingMs = e.timeMs;
      entry.region = e.partition;
    }
    if (receivedAt !== undefined) {
      entry.readings++;
      if (entry.lastReceivedMs === null || receivedAt > entry.lastReceivedMs) entry.lastReceivedMs = receivedAt;
    }
  }

  /** Forgets the least recently seen devices beyond the cap (ties: the smaller device id goes first). */
  private compact(): void {
    const excess = this.devices.size - this.maxDevices;
    if (excess <= 0) return;
    const oldest = new BoundedHeap(excess, (a, b) => compareKeys(a, b) > 0);
    for (const [id, e] of this.devices) oldest.offer({ ms: e.lastReadingMs, id });
    for (const k of oldest.drain()) this.devices.delete(k.id);
    this.forgotten += excess;
  }
}

interface Key {
  ms: number;
  id: string;
}

function compareKeys(a: Key, b: Key): number {
  if (a.ms !== b.ms) return a.ms - b.ms;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function view(id: string, e: Entry): DeviceView {
  return { device_id: id, region: e.region, last_reading_ms: e.lastReadingMs, last_received_ms: e.lastReceivedMs, readings: e.readings };
}

/**
 * The `capacity` best keys offered, where `worse(a, b)` says a ranks below b: a heap with the worst on
 * top, so a page costs O(devices × log limit) however many devices there are.
 */
class BoundedHeap {
  private readonly items: Key[] = [];

  constructor(
    private readonly capacity: number,
    private readonly worse: (a: Key, b: Key) => boolean,
  ) {}

  offer(key: Key): void {
    const items = this.items;
    if (items.length < this.capacity) {
      items.push(key);
      this.up(items.length - 1);
    } else if (items.length > 0 && this.worse(items[0]!, key)) {
      items[0] = key;
      this.down(0);
    }
  }

  drain(): Key[] {
    return this.items.splice(0);
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(items[i]!, items[parent]!)) return;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      let top = i;
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < items.length && this.worse(items[c]!, items[top]!)) top = c;
      if (top === i) return;
      [items[i], items[top]] = [items[top]!, items[i]!];
      i = top;
    }
  }
}

// ---- the query and its cursor ------------------------------------------------------------------------

export interface QueryError {
  error: { code: 'invalid_query' | 'invalid_cursor'; message: string };
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const CURSOR_ORDER = { newest: 'n', oldest: 'o' } as const;

function invalid(message: string): QueryError {
  return { error: { code: 'invalid_query', message } };
}

function wholeNumber(value: string, min: number, max: number): number | undefined {
  if (!/^[0-9]{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

/** Parses `region`, `silent_for_ms`, `limit` and `cursor`; other parameters are ignored, as `GET /v1/regions` does. */
export function parseDeviceQuery(raw: string): DeviceQuery | QueryError {
  const params = new URLSearchParams(raw);
  for (const name of ['region', 'silent_for_ms', 'limit', 'cursor']) {
    if (params.getAll(name).length > 1) return invalid(`${name} is given more than once`);
  }
  const query: DeviceQuery = { limit: DEFAULT_DEVICE_PAGE };
  const region = params.get('region');
  if (region !== null) {
    const bytes = Buffer.byteLength(region);
    if (bytes < 1 || bytes > 64) return invalid('region must be 1 to 64 bytes of UTF-8');
    query.region = region;
  }
  const silent = params.get('silent_for_ms');
  if (silent !== null) {
    const ms = wholeNumber(silent, 0, MAX_SAFE);
    if (ms === undefined) return invalid('silent_for_ms must be an integer number of milliseconds, 0 or more');
    query.silentForMs = ms;
  }
  const limit = params.get('limit');
  if (limit !== null) {
    const n = wholeNumber(limit, 1, MAX_DEVICE_PAGE);
    if (n === undefined) return invalid(`limit must be an integer from 1 to ${MAX_DEVICE_PAGE}`);
    query.limit = n;
  }
  const cursor = params.get('cursor');
  if (cursor !== null) {
    const after = decodeCursor(cursor);
    const order: Order = query.silentForMs === undefined ? 'newest' : 'oldest';
    if (!after || after.order !== order) {
      return {
        error: {
          code: 'invalid_cursor',
          message: 'cursor is not one this node gave out for this order; pass the next_cursor of the previous page unchanged (with silent_for_ms given or not, as then), or none to start over',
        },
      };
    }
    query.after = after;
  }
  return query;
}

/** base64url of `<order>.<ms>.<device id>`: opaque to clients, a position in the sorted list, not a secret. */
export function encodeCursor(cursor: DeviceCursor): string {
  return Buffer.from(`${CURSOR_ORDER[cursor.order]}.${cursor.lastReadingMs}.${cursor.deviceId}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): DeviceCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return undefined;
  const plain = Buffer.from(text, 'base64url').toString('utf8');
  const m = /^([no])\.(-?[0-9]{1,16})\.(.+)$/s.exec(plain);
  if (!m) return undefined;
  const ms = Number(m[2]);
  const deviceId = m[3]!;
  if (!Number.isSafeInteger(ms) || Buffer.byteLength(deviceId) > 128) return undefined;
  // Only the exact text this node makes: no second spelling of the same position.
  const order: Order = m[1] === 'n' ? 'newest' : 'oldest';
  if (encodeCursor({ order, lastReadingMs: ms, deviceId }) !== text) return undefined;
  return { order, lastReadingMs: ms, deviceId };
}
