/* global document, window, location, history, sessionStorage, URLSearchParams */
/**
 * The dashboard: asks for a read token, then shows a tile and a chart per region, kept live from the
 * region stream, and the node's health polled every few seconds.
 */
import { AuthError, getJson, openStream } from './api.js';
import { RegionChart } from './chart.js';
import { BUCKETS, seriesWindow, toColumns } from './series.js';
import * as fmt from './format.js';
import { RateMeter } from './health.js';

const TOKEN_KEY = 'edgeagg.readToken';
/** A region's series is fetched again at most this often while its readings stream in. */
const SERIES_MIN_INTERVAL_MS = 3_000;
/** Every series is fetched this often anyway, so the window keeps moving for quiet regions. */
const SERIES_ROLL_MS = 30_000;
const HEALTH_POLL_MS = 2_000;
const RETRY_START_MS = 3_000;

const $ = (selector, root = document) => root.querySelector(selector);

/** The running view for one token; replaced as a whole when the token changes. */
let session;
let bucket = sessionStorage.getItem('edgeagg.bucket') in BUCKETS ? sessionStorage.getItem('edgeagg.bucket') : '1m';

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
  }

  start(regions) {
    document.body.dataset.state = 'live';
    for (const r of regions) this.update(r);
    this.updateEmpty();
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
    this.timers.push(setInterval(() => this.refreshAllSeries(), SERIES_ROLL_MS));
    this.timers.push(setInterval(() => void this.pollHealth(), HEALTH_POLL_MS));
    void this.pollHealth();
  }

  stop() {
    this.stopped = true;
    this.stream?.close();
    for (const t of this.timers) clearInterval(t);
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    $('#regions').replaceChildren();
  }

  update(r, live = false) {
    if (!r || typeof r.region !== 'string') return;
    let tile = this.tiles.get(r.region);
    if (!tile) {
      tile = new RegionTile(r.region, this);
      this.tiles.set(r.region, tile);
      insertSorted($('#regions'), tile.el, r.region);
      this.updateEmpty();
      tile.scheduleSeries(true);
    } else if (live) {
      tile.scheduleSeries();
    }
    tile.render(r, live);
  }

  updateEmpty() {
    $('#empty').hidden = this.tiles.size > 0;
  }

  tickAges() {
    const now = Date.now();
    for (const tile of this.tiles.values()) tile.renderAge(now);
  }

  refreshAllSeries() {
    for (const tile of this.tiles.values()) tile.scheduleSeries(true);
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

function insertSorted(parent, el, name) {
  const next = [...parent.children].find((c) => c.dataset.region > name);
  parent.insertBefore(el, next ?? null);
}

class RegionTile {
  constructor(name, session) {
    this.name = name;
    this.session = session;
    this.el = $('#tile-template').content.firstElementChild.cloneNode(true);
    this.el.dataset.region = name;
    this.el.setAttribute('aria-label', `Region ${name}`);
    this.fields = {};
    for (const f of this.el.querySelectorAll('[data-field]')) this.fields[f.dataset.field] = f;
    this.fields.region.textContent = name;
    this.chart = new RegionChart(this.fields.chart);
    this.lastTimestamp = undefined;
    this.count = undefined;
    this.seriesAt = 0;
    this.seriesTimer = undefined;
    this.seriesInFlight = false;
    this.seriesAgain = false;
  }

  render(r, live) {
    const f = this.fields;
    f.mean.textContent = fmt.temp(r.mean);
    f.mean.title = r.mean == null ? '' : `${r.mean} °C`;
    f.min.textContent = fmt.temp(r.min);
    f.max.textContent = fmt.temp(r.max);
    f.count.textContent = fmt.count(r.count);
    f.p50.textContent = fmt.temp(r.p50);
    f.p90.textContent = fmt.temp(r.p90);
    f.p99.textContent = fmt.temp(r.p99);
    if (r.last) {
      f.last.textContent = `${fmt.temp(r.last.temperature_c)} °C from ${r.last.device_id} at ${fmt.clock(r.last.timestamp)}`;
      this.lastTimestamp = r.last.timestamp;
    } else {
      f.last.textContent = '—';
      this.lastTimestamp = undefined;
    }
    this.renderAge(Date.now());
    // Flash on news only: a reconnect's snapshot repeats what the tile shows.
    const changed = this.count !== undefined && r.count !== this.count;
    this.count = r.count;
    if (live && changed) {
      this.el.classList.remove('flash');
      void this.el.offsetWidth; // restart the animation
      this.el.classList.add('flash');
    }
  }

  renderAge(now) {
    this.fields.age.textContent = this.lastTimestamp === undefined ? '' : fmt.age(this.lastTimestamp, now);
  }

  /**
   * Fetches the series now if it was not fetched recently, else once the interval has passed;
   * `now` (a range switch, the periodic roll) skips the wait.
   */
  scheduleSeries(now = false) {
    if (this.seriesInFlight) {
      this.seriesAgain = this.seriesAgain === 'now' || now ? 'now' : 'soon';
      return;
    }
    if (this.seriesTimer !== undefined) {
      if (!now) return;
      clearTimeout(this.seriesTimer);
    }
    const wait = now ? 0 : Math.max(0, this.seriesAt + SERIES_MIN_INTERVAL_MS - performance.now());
    this.seriesTimer = setTimeout(() => {
      this.seriesTimer = undefined;
      void this.loadSeries();
    }, wait);
  }

  async loadSeries() {
    this.seriesInFlight = true;
    this.seriesAt = performance.now();
    const b = bucket;
    const span = seriesWindow(b);
    try {
      const { status, body } = await this.session.get(
        `/v1/regions/${encodeURIComponent(this.name)}/series?bucket=${b}&from=${span.from}&to=${span.to}`,
        [404],
      );
      if (this.session.stopped || b !== bucket) return;
      const buckets = status === 200 && body ? body.buckets : [];
      this.chart.setData(toColumns(buckets, b, span));
      this.fields.chart.dataset.bucket = b;
      this.fields.chart.setAttribute('aria-label', `Mean temperature of ${this.name} with its min-max band, ${BUCKETS[b].label}`);
    } catch {
      // Shown by the connection state; the next event or the roll timer fetches again.
    } finally {
      this.seriesInFlight = false;
      const again = this.seriesAgain;
      this.seriesAgain = false;
      if (again && !this.session.stopped) this.scheduleSeries(again === 'now');
    }
  }

  destroy() {
    clearTimeout(this.seriesTimer);
    this.chart.destroy();
  }
}

// ---- health ------------------------------------------------------------------------------------

function health(name) {
  return $(`[data-health="${name}"]`);
}

function setHealth(name, text, state) {
  const el = health(name);
  el.textContent = text;
  if (state === undefined) delete el.dataset.state;
  else el.dataset.state = state;
}

function renderReady(result) {
  if (result.status !== 'fulfilled') {
    setHealth('ready', 'unreachable', 'bad');
    return;
  }
  const ready = result.value.body?.ready === true;
  setHealth('ready', ready ? 'ready' : 'not ready', ready ? 'ok' : 'bad');
}

/** The fleet from GET /v1/fleet: alone, or how many nodes and the worst replication lag. */
function renderFleet(fleet) {
  if (!fleet || !Array.isArray(fleet.nodes)) {
    setHealth('fleet', 'n/a');
    return;
  }
  if (fleet.replication === 'off') {
    setHealth('fleet', 'alone (no replication)');
    return;
  }
  const lags = fleet.nodes.map((n) => n.replication_lag_ms).filter((l) => typeof l === 'number');
  const worst = lags.length ? Math.max(...lags) : undefined;
  const lag = worst === undefined ? '' : `, lag ≤ ${worst < 1000 ? `${Math.round(worst)} ms` : fmt.duration(worst / 1000)}`;
  setHealth('fleet', `${fleet.nodes.length} nodes${lag}`);
}

function renderNode(node, rates) {
  if (!node) {
    for (const name of ['node', 'circuit', 'module', 'uptime', 'ingest', 'duplicates', 'rejected']) setHealth(name, 'n/a');
    health('reasons').replaceChildren();
    return;
  }
  setHealth('node', node.node_id ?? 'n/a');
  const circuit = node.circuit ?? 'n/a';
  setHealth('circuit', circuit.replace('_', '-'), node.circuit);
  setHealth('module', node.module ? `${node.module.name}@${node.module.version}` : 'n/a');
  setHealth('uptime', fmt.duration(node.uptime_s));
  if (!rates) {
    for (const name of ['ingest', 'duplicates', 'rejected']) setHealth(name, '…');
    return;
  }
  setHealth('ingest', fmt.rate(rates.accepted));
  setHealth('duplicates', fmt.rate(rates.duplicates));
  setHealth('rejected', fmt.rate(rates.rejectedTotal), rates.rejectedTotal > 0 ? 'bad' : undefined);
  const totals = node.counters?.rejected ?? {};
  const items = Object.keys(totals)
    .sort((a, b) => (rates.rejected[b] ?? 0) - (rates.rejected[a] ?? 0) || a.localeCompare(b))
    .map((code) => {
      const li = document.createElement('li');
      li.dataset.reason = code;
      const b = document.createElement('b');
      b.textContent = code;
      li.append(b, ` ${fmt.rate(rates.rejected[code] ?? 0)} · ${fmt.count(totals[code])} total`);
      return li;
    });
  health('reasons').replaceChildren(...items);
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
  const range = $('#range');
  range.value = bucket;
  $('#range-label').textContent = BUCKETS[bucket].label;
  range.addEventListener('change', () => {
    bucket = range.value in BUCKETS ? range.value : '1m';
    sessionStorage.setItem('edgeagg.bucket', bucket);
    $('#range-label').textContent = BUCKETS[bucket].label;
    session?.refreshAllSeries();
  });
  window.addEventListener('hashchange', () => {
    const before = sessionStorage.getItem(TOKEN_KEY);
    takeTokenFromHash();
    if (sessionStorage.getItem(TOKEN_KEY) !== before) void start();
  });
}

takeTokenFromHash();
bindControls();
void start();
