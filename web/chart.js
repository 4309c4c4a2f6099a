/* global ResizeObserver, document, getComputedStyle, window */
/**
 * A region's series as a uPlot chart: the mean as a line over a filled min–max band, gaps left as
 * gaps, a lone bucket drawn as a dot. Hovering writes the bucket's values to `readout`; dragging
 * across zooms in (mouse only, so a finger still scrolls the page), a double-click or `resetZoom()`
 * zooms back out. `compact` draws a small sparkline without axes.
 */
import uPlot from './vendor/uPlot.esm.js';
import * as fmt from './format.js';

const HEIGHT = 160;
const COMPACT_HEIGHT = 44;
// Zooming is by mouse drag only: on a touch screen a drag scrolls the page.
const HINT = window.matchMedia?.('(hover: none)').matches ? 'Tap the chart for values' : 'Hover for values · drag to zoom';

export class RegionChart {
  /**
   * @param container where the chart goes
   * @param {{ readout?: HTMLElement, onZoom?: (zoomed: boolean) => void }} hooks
   */
  constructor(container, { readout, onZoom } = {}) {
    this.container = container;
    this.readout = readout;
    this.onZoom = onZoom ?? (() => {});
    this.plot = undefined;
    this.compact = false;
    this.zoomed = false;
    this.data = undefined;
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: this.height() });
    });
    this.resize.observe(container);
  }

  width() {
    return Math.max(this.compact ? 60 : 120, Math.floor(this.container.clientWidth));
  }

  height() {
    return this.compact ? COMPACT_HEIGHT : HEIGHT;
  }

  setCompact(compact) {
    if (compact === this.compact) return;
    this.compact = compact;
    this.plot?.destroy();
    this.plot = undefined;
    this.setZoomed(false);
    if (this.data) this.setData(this.data);
  }

  /** `data` = { columns, counts, stepMs } from layOut(). */
  setData(data) {
    this.data = data;
    if (!this.plot) {
      this.plot = new uPlot(this.options(), data.columns, this.container);
      this.showReadout(null);
    } else {
      // While zoomed in, new data keeps the zoom.
      this.plot.setData(data.columns, !this.zoomed);
    }
  }

  resetZoom() {
    if (!this.plot || !this.data) return;
    const xs = this.data.columns[0];
    this.plot.setScale('x', { min: xs[0], max: xs[xs.length - 1] });
  }

  setZoomed(zoomed) {
    if (zoomed === this.zoomed) return;
    this.zoomed = zoomed;
    this.onZoom(zoomed);
  }

  showReadout(idx) {
    if (!this.readout || !this.data) return;
    const [xs, mean, min, max] = this.data.columns;
    if (idx == null) {
      this.readout.textContent = this.compact ? '' : HINT;
      this.readout.title = '';
      this.readout.dataset.state = 'hint';
      return;
    }
    const at = fmt.bucketTime(xs[idx] * 1000, this.data.stepMs);
    const n = this.data.counts[idx];
    this.readout.textContent =
      mean[idx] == null
        ? `${at}: no readings`
        : `${at} mean ${fmt.temp(mean[idx])} °C (${fmt.temp(min[idx])} to ${fmt.temp(max[idx])}) · ${fmt.count(n)} reading${n === 1 ? '' : 's'}`;
    this.readout.title = this.readout.textContent;
    this.readout.dataset.state = 'value';
  }

  options() {
    const css = getComputedStyle(document.documentElement);
    const line = css.getPropertyValue('--chart-line').trim() || '#2563eb';
    const band = css.getPropertyValue('--chart-band').trim() || 'rgba(37, 99, 235, 0.18)';
    const edge = css.getPropertyValue('--chart-edge').trim() || 'rgba(37, 99, 235, 0.35)';
    const axis = css.getPropertyValue('--muted').trim() || '#667';
    const grid = css.getPropertyValue('--grid').trim() || 'rgba(128, 128, 128, 0.15)';
    const compact = this.compact;
    const edgeSeries = { stroke: edge, width: 1, points: { show: false } };
    const gridOf = { stroke: grid, width: 1 };
    return {
      width: this.width(),
      height: this.height(),
      legend: { show: false },
      padding: compact ? [4, 2, 4, 2] : [6, 28, 0, 0],
      cursor: {
        drag: { x: !compact, y: false, setScale: true },
        points: { size: 7, fill: line },
        y: false,
      },
      scales: { x: { time: true } },
      series: [
        {},
        // Dots where a bucket stands alone: with gaps left open a lone bucket has no line to show it.
        { label: 'mean', stroke: line, width: compact ? 1.5 : 2, spanGaps: false, points: { size: compact ? 3 : 5, fill: line, filter: isolatedPoints } },
        { label: 'min', ...edgeSeries },
        { label: 'max', ...edgeSeries },
      ],
      bands: [{ series: [3, 2], fill: band }],
      axes: compact
        ? [{ show: false }, { show: false }]
        : [
            { stroke: axis, grid: gridOf, ticks: gridOf, size: 30 },
            {
              stroke: axis,
              grid: gridOf,
              ticks: gridOf,
              size: 48,
              values: (_u, vals) => vals.map((v) => (v == null ? '' : `${Number(v.toFixed(1))}°`)),
            },
          ],
      hooks: {
        setCursor: [(u) => this.showReadout(u.cursor.idx)],
        setScale: [
          (u, key) => {
            if (key !== 'x' || !this.data) return;
            const xs = this.data.columns[0];
            const { min, max } = u.scales.x;
            this.setZoomed(min > xs[0] + 1e-6 || max < xs[xs.length - 1] - 1e-6);
          },
        ],
      },
    };
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}

/** Indexes of the non-empty buckets whose neighbours are both empty (uPlot's points filter). */
function isolatedPoints(u, seriesIdx, show) {
  if (show) return null;
  const ys = u.data[seriesIdx];
  const idxs = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  }
  return idxs.length > 0 ? idxs : null;
}
