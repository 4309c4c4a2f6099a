/* global document, Option */
/**
 * The devices panel: every device the node knows (GET /v1/devices), quietest first, the ones silent for
 * longer than the chosen time highlighted, with a filter box. The rows' order and the filter need no DOM
 * (unit-tested in Node); DevicesPanel draws them.
 */
import * as fmt from './format.js';

/** "Silent for more than" choices, in minutes. */
export const SILENT_CHOICES = [5, 15, 60, 360, 1440];
export const DEFAULT_SILENT_MINUTES = 15;
/** Devices read per request, and requests per refresh: what the panel can know of at most. */
const PAGE = 1000;
const MAX_PAGES = 5;
/** Rows drawn at once: past it the filter narrows the list. */
export const MAX_ROWS = 200;
const REFRESH_MS = 10_000;

/**
 * The devices that match `query` (case-insensitive words, each in the device id or the region), quietest
 * first, each marked `silent` when its last reading is older than `silentMs`; only those with `onlySilent`.
 */
export function deviceRows(devices, { query = '', silentMs, onlySilent = false, now = Date.now() }) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return devices
    .filter((d) => words.every((w) => d.device_id.toLowerCase().includes(w) || d.region.toLowerCase().includes(w)))
    .map((d) => ({ ...d, silent: now - d.last_reading_ms > silentMs }))
    .filter((d) => !onlySilent || d.silent)
    .sort((a, b) => a.last_reading_ms - b.last_reading_ms || (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0));
}

function minutesLabel(minutes) {
  return minutes < 60 ? `${minutes} min` : minutes < 1440 ? `${minutes / 60} h` : `${minutes / 1440} d`;
}

const $ = (selector, root = document) => root.querySelector(selector);

export class DevicesPanel {
  /** `get(path, allow)` fetches JSON with the session's token (LiveSession.get). */
  constructor(get) {
    this.get = get;
    this.devices = [];
    this.meta = { tracked: 0, capped: false, seeding: false, partial: false };
    this.timers = [];
    this.stopped = false;
    this.root = $('#devices-section');
    const select = $('#device-silent');
    if (select.options.length === 0) {
      for (const m of SILENT_CHOICES) select.append(new Option(`Silent > ${minutesLabel(m)}`, String(m)));
    }
    select.value = String(DEFAULT_SILENT_MINUTES);
    this.onInput = () => this.render();
    // The silent-only list is asked of the node with the threshold; the full list is only drawn again.
    this.onSilentOnly = () => {
      this.render();
      void this.refresh();
    };
    $('#device-search').addEventListener('input', this.onInput);
    select.addEventListener('change', this.onSilentOnly);
    $('#device-silent-only').addEventListener('change', this.onSilentOnly);
  }

  start() {
    void this.refresh();
    this.timers.push(setInterval(() => void this.refresh(), REFRESH_MS));
    this.timers.push(setInterval(() => this.tickAges(), 1_000));
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    $('#device-search').removeEventListener('input', this.onInput);
    $('#device-silent').removeEventListener('change', this.onSilentOnly);
    $('#device-silent-only').removeEventListener('change', this.onSilentOnly);
    $('#devices-body').replaceChildren();
  }

  silentMs() {
    return Number($('#device-silent').value || DEFAULT_SILENT_MINUTES) * 60_000;
  }

  /** Reads the devices again: all of them (newest first, up to MAX_PAGES pages), or only the silent ones. */
  async refresh() {
    const onlySilent = $('#device-silent-only').checked;
    const base = onlySilent ? `/v1/devices?silent_for_ms=${this.silentMs()}&limit=${PAGE}` : `/v1/devices?limit=${PAGE}`;
    const devices = [];
    let cursor = null;
    let body;
    try {
      for (let i = 0; i < MAX_PAGES; i++) {
        const res = await this.get(cursor ? `${base}&cursor=${encodeURIComponent(cursor)}` : base, [404]);
        if (res.status === 404) {
          // A node from before GET /v1/devices: no panel.
          this.root.hidden = true;
          return;
        }
        body = res.body;
        devices.push(...body.devices);
        cursor = body.next_cursor;
        if (!cursor) break;
      }
    } catch (error) {
      if (!this.stopped) $('#devices-note').textContent = `Devices could not be read (${error.message}).`;
      return;
    }
    if (this.stopped) return;
    this.root.hidden = false;
    this.devices = devices;
    this.meta = { tracked: body.tracked, capped: body.capped, seeding: body.seeding, partial: cursor !== null && cursor !== undefined };
    this.render();
  }

  render() {
    const now = Date.now();
    const rows = deviceRows(this.devices, { query: $('#device-search').value, silentMs: this.silentMs(), onlySilent: $('#device-silent-only').checked, now });
    const silent = rows.filter((r) => r.silent).length;
    const shown = rows.slice(0, MAX_ROWS);
    $('#devices-body').replaceChildren(...shown.map((d) => this.row(d, now)));
    $('#device-count').textContent = rows.length === this.devices.length ? `${rows.length}` : `${rows.length} of ${this.devices.length}`;
    $('#device-silent-count').textContent = silent > 0 ? `${silent} silent` : '';
    $('#devices-empty').hidden = rows.length > 0;
    $('#devices-empty').textContent = this.devices.length === 0 ? (this.meta.seeding ? 'Reading the devices from the event log…' : 'No devices yet.') : 'No device matches.';
    const notes = [];
    if (rows.length > shown.length) notes.push(`The ${MAX_ROWS} quietest of ${rows.length} are shown; narrow the list with the filter.`);
    if (this.meta.partial) notes.push(`Only the ${this.devices.length.toLocaleString('en-US')} most recently seen devices were read.`);
    if (this.meta.capped) notes.push(`The node tracks the ${this.meta.tracked.toLocaleString('en-US')} most recently seen devices (max-devices-tracked); older ones are not listed.`);
    if (this.meta.seeding && this.devices.length > 0) notes.push('Still reading the event log: devices not seen since the start may be missing.');
    $('#devices-note').textContent = notes.join(' ');
  }

  row(d, now) {
    const tr = document.createElement('tr');
    tr.dataset.device = d.device_id;
    if (d.silent) tr.dataset.silent = '';
    const device = document.createElement('td');
    device.className = 'device-id';
    const name = document.createElement('span');
    name.textContent = d.device_id;
    const region = document.createElement('span');
    region.className = 'device-region-sub muted';
    region.textContent = d.region;
    device.append(name, region);
    device.title = `${d.device_id} (${d.region})`;
    const regionCell = cell(d.region, 'device-region');
    const seen = cell(fmt.age(d.last_reading_ms, now), 'device-seen');
    seen.dataset.ts = String(d.last_reading_ms);
    seen.title = `last reading ${new Date(d.last_reading_ms).toLocaleString('en-GB')}${d.last_received_ms ? `, received ${new Date(d.last_received_ms).toLocaleString('en-GB')}` : ''}`;
    const readings = cell(fmt.count(d.readings), 'device-readings num');
    readings.title = 'readings received since the node started';
    tr.append(device, regionCell, seen, readings);
    return tr;
  }

  tickAges() {
    const now = Date.now();
    const silentMs = this.silentMs();
    for (const td of document.querySelectorAll('#devices-body .device-seen')) {
      const ts = Number(td.dataset.ts);
      td.textContent = fmt.age(ts, now);
      const tr = td.parentElement;
      if (now - ts > silentMs) tr.dataset.silent = '';
      else delete tr.dataset.silent;
    }
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.className = className;
  td.textContent = text;
  return td;
}
