/* global document, window, location, history, sessionStorage, URLSearchParams */
/**
 * The dashboard: asks for a read token, then shows a tile and a chart per region over the chosen
 * range, kept live from the region stream, and the node's health polled every few seconds.
 */
import { AuthError, getJson, openStream } from './api.js';
import { RANGES, rangeSpan } from './series.js';
import * as fmt from './format.js';
import { RateMeter } from './health.js';
import { renderFleet, renderNode, renderReady } from './health-view.js';
import { RegionTile } from './region-tile.js';
import { COMPACT_AFTER, visibleRegions } from './regions-view.js';
import { DevicesPanel } from './devices-view.js';

const TOKEN_KEY = 'edgeagg.readToken';
const RANGE_KEY = 'edgeagg.range';
const CUSTOM_KEY = 'edgeagg.customRange';
const SORT_KEY = 'edgeagg.sort';
/** Every region's range data is fetched this often anyway, so the window keeps moving for quiet regions. */
const RANGE_ROLL_MS = 30_000;
const LAYOUT_INTERVAL_MS = 1_000;
const HEALTH_POLL_MS = 2_000;
const RETRY_START_MS = 3_000;

const $ = (selector, root = document) => root.querySelector(selector);

/** The running view for one token; replaced as a whole when the token changes. */
let session;
let custom = readCustom();
let range = sessionStorage.getItem(RANGE_KEY) ?? '1h';
if (!(range in RANGES) && !(range === 'custom' && custom)) range = '1h';

// ---- token -------------------------------------------------------------------------------------

/** `#token=...` in the address: keep it for the session and take it out of the address bar (and history). */
function takeTokenFromHash() {
  if (!location.hash.startsWith('#')) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token') ?? params.get('access_token');
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  history.replaceState(null, '', location.pathname + location.search);
}

function authMessage(error, token) {
  if (error.status === 403) return `This token may not read the dashboard: ${error.message}. Use a read (or admin) token.`;
  if (!token) return 'This dashboard needs a read token.';
  return `The node refused this token: ${error.message}.`;
}

/** Tries `token` with a first read; on success it becomes the session's token and the view starts. */
async function useToken(token) {
  const { body } = await getJson('/v1/regions', token);
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  session?.stop();
  session = new LiveSession(token);
  session.start(body.regions ?? []);
}

function showTokenDialog(message) {
  const dialog = $('#token-dialog');
  $('#token-message').textContent = message;
  $('#token-cancel').hidden = !session;
  $('#token-input').value = '';
  document.body.dataset.state = session ? document.body.dataset.state : 'needs-token';
  if (!dialog.open) dialog.showModal();
  $('#token-input').focus();
}

async function onTokenSubmit(event) {
  event.preventDefault();
  const input = $('#token-input');
  const submit = $('#token-form button[type="submit"]');
  const token = input.value.trim();
  if (!token) return;
  submit.disabled = true;
  try {
    await useToken(token);
    $('#token-dialog').close();
  } catch (error) {
    if (error instanceof AuthError) {
      $('#token-message').textContent = authMessage(error, token);
      input.select();
    } else {
      $('#token-message').textContent = `The node could not be reached (${error.message}); try again.`;
    }
  } finally {
    submit.disabled = false;
  }
}

/** A token refused while the view runs (it expired, or the node's keys changed). */
function onAuthError(error) {
  const token = session?.token;
  session?.stop();
  session = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  setConnection('unauthorized', 'token refused');
  showTokenDialog(authMessage(error, token));
}

async function start(retryMs = RETRY_START_MS) {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  try {
    await useToken(token);
  } catch (error) {
    if (error instanceof AuthError) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      setConnection('unauthorized', 'needs a token');
      showTokenDialog(authMessage(error, token));
      return;
    }
    setConnection('offline', 'node unreachable, retrying');
    setTimeout(() => void start(Math.min(retryMs * 2, 30_000)), retryMs);
  }
}

function setConnection(state, text) {
  const el = $('#connection');
  el.dataset.state = state;
  el.textContent = text;
}

// ---- the live view -----------------------------------------------------------------------------

class LiveSession {
  constructor(token) {
    this.token = token;
    this.tiles = new Map();
    this.rates = new RateMeter();
    this.timers = [];
    this.stopped = false;
    this.layoutTimer = undefined;
    this.order = '';
  }

  start(regions) {
    document.body.dataset.state = 'live';
    for (const r of regions) this.update(r);
    this.updateEmpty();
    this.layout();
    this.stream = openStream('/v1/stream', this.token, {
      onEvent: (type, data) => {
        if (type !== 'region') return;
        try {
          this.update(JSON.parse(data), true);
        } catch (error) {
          console.error('bad region event', error);
        }
      },
      onState: (state) => setConnection(state, state === 'live' ? 'live' : 'reconnecting…'),
      onAuthError: (error) => onAuthError(error),
    });
    this.timers.push(setInterval(() => this.tickAges(), 1_000));
    this.timers.push(setInterval(() => this.refreshAll(), RANGE_ROLL_MS));
    this.devices = new DevicesPanel((path, allow) => this.get(path, allow));
    this.devices.start();
    this.timers.push(setInterval(() => void this.pollHealth(), HEALTH_POLL_MS));
    void this.pollHealth();
  }

  stop() {
    this.stopped = true;
    this.stream?.close();
    this.devices?.stop();
    clearTimeout(this.layoutTimer);
    for (const t of this.timers) clearInterval(t);
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    $('#regions').replaceChildren();
  }

  /** The selected range, computed afresh (a range ending now moves on). */
  span() {
    return currentSpan();
  }

  update(r, live = false) {
    if (!r || typeof r.region !== 'string') return;
    let tile = this.tiles.get(r.region);
    const isNew = !tile;
    if (isNew) {
      tile = new RegionTile(r.region, this);
      this.tiles.set(r.region, tile);
      $('#regions').append(tile.el);
      this.updateEmpty();
    }
    tile.renderLast(r, live);
    if (isNew) tile.schedule(true);
    // A range that ended a while ago does not change when new readings come.
    else if (live && this.span().to > Date.now() - 60_000) tile.schedule();
    this.scheduleLayout();
  }

  updateEmpty() {
    $('#empty').hidden = this.tiles.size > 0;
  }

  tickAges() {
    const now = Date.now();
    for (const tile of this.tiles.values()) tile.renderAge(now);
  }

  refreshAll() {
    for (const tile of this.tiles.values()) tile.schedule(true);
  }

  /** A tile has new range numbers: its place in a sort by mean may change. */
  onRangeData() {
    this.scheduleLayout();
  }

  /** Re-sorts at most once a second, so tiles do not jump about under the reader while data streams in. */
  scheduleLayout() {
    if (this.layoutTimer !== undefined) return;
    this.layoutTimer = setTimeout(() => {
      this.layoutTimer = undefined;
      if (!this.stopped) this.layout();
    }, LAYOUT_INTERVAL_MS);
  }

  /** Shows the regions that match the search, in the chosen order; many of them as compact rows. */
  layout() {
    const rows = [...this.tiles.values()].map((t) => ({ name: t.name, mean: t.mean, lastSeen: t.lastTimestamp }));
    const names = visibleRegions(rows, { query: $('#region-search').value, sort: $('#region-sort').value });
    const shown = new Set(names);
    const compact = names.length > COMPACT_AFTER;
    const container = $('#regions');
    container.classList.toggle('compact', compact);
    for (const tile of this.tiles.values()) {
      tile.el.hidden = !shown.has(tile.name);
      tile.chart.setCompact(compact);
    }
    const order = names.join('\n');
    if (order !== this.order) {
      this.order = order;
      // Hidden tiles go after the shown ones; moving only what moved keeps focus and hover where they are.
      const want = [...names, ...[...this.tiles.keys()].filter((n) => !shown.has(n))].map((n) => this.tiles.get(n).el);
      want.forEach((el, i) => {
        if (container.children[i] !== el) container.insertBefore(el, container.children[i] ?? null);
      });
    }
    $('#region-count').textContent = names.length === this.tiles.size ? `${this.tiles.size}` : `${names.length} of ${this.tiles.size}`;
    $('#no-match').hidden = names.length > 0 || this.tiles.size === 0;
  }

  /** Fetches JSON with the session's token; an auth failure ends the session. */
  async get(path, allow) {
    try {
      return await getJson(path, this.token, { allow });
    } catch (error) {
      if (error instanceof AuthError && !this.stopped) onAuthError(error);
      throw error;
    }
  }

  async pollHealth() {
    const [ready, node, fleet] = await Promise.allSettled([
      getJson('/readyz', '', { allow: [503] }),
      this.get('/v1/node', [404]),
      this.get('/v1/fleet', [404]),
    ]);
    if (this.stopped) return;
    renderReady(ready);
    renderFleet(fleet.status === 'fulfilled' && fleet.value.status === 200 ? fleet.value.body : undefined);
    if (node.status === 'fulfilled' && node.value.status === 200 && node.value.body) {
      renderNode(node.value.body, this.rates.sample(node.value.body.counters ?? {}, performance.now()));
    } else {
      renderNode(undefined, undefined);
    }
  }
}

// ---- range -------------------------------------------------------------------------------------

function currentSpan() {
  const span = rangeSpan(range, Date.now(), custom) ?? rangeSpan('1h', Date.now());
  // Identifies the choice (not the moving window), so an answer for an older choice is dropped.
  return { ...span, key: range === 'custom' && custom ? `custom:${custom.from}:${custom.to}` : range };
}

function showRange() {
  const span = currentSpan();
  $('#range-label').textContent = `${span.title} · ${span.bucket === '1m' ? 'minute' : 'hour'} data`;
  $('#custom-range').hidden = range !== 'custom';
  // The numbers and their label change together when the new range's data comes; till then they are dimmed.
  for (const tile of session?.tiles.values() ?? []) tile.el.dataset.loading = '';
}

function setRange(value, customSpan = custom) {
  range = value;
  custom = customSpan;
  sessionStorage.setItem(RANGE_KEY, range);
  if (custom) sessionStorage.setItem(CUSTOM_KEY, JSON.stringify(custom));
  showRange();
  session?.refreshAll();
}

function onCustomSubmit(event) {
  event.preventDefault();
  const from = fmt.fromLocalInput($('#custom-from').value);
  const to = fmt.fromLocalInput($('#custom-to').value);
  const error = $('#custom-error');
  if (from === undefined || to === undefined || !(to > from)) {
    error.textContent = 'Choose a start before the end.';
    return;
  }
  error.textContent = '';
  setRange('custom', { from, to });
}

function readCustom() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CUSTOM_KEY) ?? 'null');
    return c && typeof c.from === 'number' && typeof c.to === 'number' ? c : undefined;
  } catch {
    return undefined;
  }
}

// ---- wiring ------------------------------------------------------------------------------------

function bindControls() {
  $('#token-form').addEventListener('submit', (e) => void onTokenSubmit(e));
  $('#token-cancel').addEventListener('click', () => $('#token-dialog').close());
  // Escape closes the dialog only when there is a view to go back to.
  $('#token-dialog').addEventListener('cancel', (e) => {
    if (!session) e.preventDefault();
  });
  $('#change-token').addEventListener('click', () => showTokenDialog(''));
  const select = $('#range');
  select.value = range;
  select.addEventListener('change', () => {
    if (select.value !== 'custom') return setRange(select.value in RANGES ? select.value : '1h');
    // A first custom range: the last 6 hours, to edit.
    const to = Date.now();
    const c = custom ?? { from: to - 6 * 3_600_000, to };
    $('#custom-from').value = fmt.toLocalInput(c.from);
    $('#custom-to').value = fmt.toLocalInput(c.to);
    setRange('custom', c);
  });
  if (custom) {
    $('#custom-from').value = fmt.toLocalInput(custom.from);
    $('#custom-to').value = fmt.toLocalInput(custom.to);
  }
  $('#custom-range').addEventListener('submit', onCustomSubmit);
  const relayout = () => session?.layout();
  $('#region-search').addEventListener('input', relayout);
  $('#region-sort').addEventListener('change', () => {
    sessionStorage.setItem(SORT_KEY, $('#region-sort').value);
    relayout();
  });
  $('#region-sort').value = sessionStorage.getItem(SORT_KEY) ?? 'name';
  if (!$('#region-sort').value) $('#region-sort').value = 'name';
  showRange();
  window.addEventListener('hashchange', () => {
    const before = sessionStorage.getItem(TOKEN_KEY);
    takeTokenFromHash();
    if (sessionStorage.getItem(TOKEN_KEY) !== before) void start();
  });
}

takeTokenFromHash();
bindControls();
void start();
