/* global document */
/**
 * One region's tile: its numbers over the selected range (GET /v1/regions/{region}?from=&to=), its
 * last reading from the stream, and its chart (GET .../series). Range data is fetched again when the
 * region's readings change, at most every few seconds.
 */
import { RegionChart } from './chart.js';
import { layOut, mergeFactor } from './series.js';
import { isSilent } from './regions-view.js';
import * as fmt from './format.js';

/** A region's range data is fetched again at most this often while its readings stream in. */
const RANGE_MIN_INTERVAL_MS = 3_000;

export class RegionTile {
  /**
   * @param name the region
   * @param {{ get(path: string, allow: number[]): Promise<{status: number, body: any}>, span(): any, stopped: boolean }} view
   */
  constructor(name, view) {
    this.name = name;
    this.view = view;
    this.el = document.querySelector('#tile-template').content.firstElementChild.cloneNode(true);
    this.el.dataset.region = name;
    this.el.setAttribute('aria-label', `Region ${name}`);
    this.fields = {};
    for (const f of this.el.querySelectorAll('[data-field]')) this.fields[f.dataset.field] = f;
    this.fields.region.textContent = name;
    this.fields.region.title = name;
    const reset = this.fields['reset-zoom'];
    this.chart = new RegionChart(this.fields.chart, {
      readout: this.fields.readout,
      onZoom: (zoomed) => (reset.hidden = !zoomed),
    });
    reset.addEventListener('click', () => this.chart.resetZoom());
    this.lastTimestamp = undefined;
    this.allTimeCount = undefined;
    /** The mean over the selected range, for sorting. */
    this.mean = undefined;
    this.fetchedAt = 0;
    this.timer = undefined;
    this.inFlight = false;
    this.again = false;
  }

  /** An all-time aggregate from the list or the stream: the last reading, and news of a change. */
  renderLast(r, live) {
    const f = this.fields;
    if (r.last) {
      f.last.textContent = `${fmt.temp(r.last.temperature_c)} °C from ${r.last.device_id} at ${fmt.clock(r.last.timestamp)}`;
      f.last.title = f.last.textContent;
      this.lastTimestamp = r.last.timestamp;
    } else {
      f.last.textContent = '—';
      this.lastTimestamp = undefined;
    }
    this.renderAge(Date.now());
    // Flash on news only: a reconnect's snapshot repeats what the tile shows.
    const changed = this.allTimeCount !== undefined && r.count !== this.allTimeCount;
    this.allTimeCount = r.count;
    if (live && changed) {
      this.el.classList.remove('flash');
      void this.el.offsetWidth; // restart the animation
      this.el.classList.add('flash');
    }
    return changed;
  }

  /** The aggregate over the selected range: the big numbers. */
  renderStats(r, span) {
    const f = this.fields;
    const label = span.label;
    f.range.textContent = label;
    f.range.title = span.title;
    delete this.el.dataset.loading;
    f.mean.textContent = fmt.temp(r?.mean);
    f.mean.title = r?.mean == null ? `no readings in the ${label}` : `${r.mean} °C, mean of the ${label}`;
    f.min.textContent = fmt.temp(r?.min);
    f.max.textContent = fmt.temp(r?.max);
    f.count.textContent = fmt.count(r?.count ?? 0);
    f.p50.textContent = fmt.temp(r?.p50);
    f.p90.textContent = fmt.temp(r?.p90);
    f.p99.textContent = fmt.temp(r?.p99);
    this.mean = r?.mean ?? undefined;
  }

  renderAge(now) {
    this.fields.age.textContent = this.lastTimestamp === undefined ? '' : fmt.age(this.lastTimestamp, now);
    const silent = isSilent(this.lastTimestamp, now);
    if (silent) this.el.dataset.silent = '';
    else delete this.el.dataset.silent;
    this.fields.age.title = silent ? 'no reading for a while' : '';
  }

  /**
   * Fetches the range data now if it was not fetched recently, else once the interval has passed;
   * `now` (a range switch, the periodic roll) skips the wait.
   */
  schedule(now = false) {
    if (this.inFlight) {
      this.again = this.again === 'now' || now ? 'now' : 'soon';
      return;
    }
    if (this.timer !== undefined) {
      if (!now) return;
      clearTimeout(this.timer);
    }
    const wait = now ? 0 : Math.max(0, this.fetchedAt + RANGE_MIN_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, wait);
  }

  async load() {
    this.inFlight = true;
    this.fetchedAt = performance.now();
    const span = this.view.span();
    const region = `/v1/regions/${encodeURIComponent(this.name)}`;
    try {
      const [series, agg] = await Promise.all([
        this.view.get(`${region}/series?bucket=${span.bucket}&from=${span.from}&to=${span.to}`, [404]),
        this.view.get(`${region}?from=${span.from}&to=${span.to}`, [404]),
      ]);
      if (this.view.stopped || this.view.span().key !== span.key) return;
      this.renderStats(agg.status === 200 ? agg.body : undefined, span);
      const buckets = series.status === 200 && series.body ? series.body.buckets : [];
      const laid = layOut(buckets, span.bucket, span, mergeFactor(buckets, span.bucket, span));
      this.chart.setData(laid);
      const chart = this.fields.chart;
      chart.dataset.bucket = span.bucket;
      chart.dataset.step = String(laid.stepMs / 60_000);
      chart.setAttribute('aria-label', `Mean temperature of ${this.name} with its min-max band, ${span.label}, ${fmt.stepLabel(laid.stepMs)} points`);
      this.view.onRangeData?.(this);
    } catch {
      // Shown by the connection state; the next event or the roll timer fetches again.
    } finally {
      this.inFlight = false;
      const again = this.again;
      this.again = false;
      if (again && !this.view.stopped) this.schedule(again === 'now');
    }
  }

  destroy() {
    clearTimeout(this.timer);
    this.chart.destroy();
  }
}
