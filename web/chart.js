/* global ResizeObserver, document, getComputedStyle */
/** A region's series as a uPlot chart: the mean as a line over a min–max band. */
import uPlot from './vendor/uPlot.esm.js';

const HEIGHT = 150;

export class RegionChart {
  constructor(container) {
    this.container = container;
    this.plot = undefined;
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
    });
    this.resize.observe(container);
  }

  width() {
    return Math.max(120, Math.floor(this.container.clientWidth));
  }

  setData(columns) {
    if (!this.plot) {
      this.plot = new uPlot(options(this.width()), columns, this.container);
    } else {
      this.plot.setData(columns);
    }
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}

/**
 * Where uPlot draws no points (too dense), still draw a bucket whose neighbours are empty: a lone
 * bucket has no line to show it.
 */
function isolatedPoints(u, seriesIdx, show) {
  if (show) return null;
  const ys = u.data[seriesIdx];
  const idxs = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  }
  return idxs.length > 0 ? idxs : null;
}

function options(width) {
  const css = getComputedStyle(document.documentElement);
  const line = css.getPropertyValue('--chart-line').trim() || '#2563eb';
  const band = css.getPropertyValue('--chart-band').trim() || 'rgba(37, 99, 235, 0.18)';
  const axis = css.getPropertyValue('--muted').trim() || '#667';
  const grid = css.getPropertyValue('--grid').trim() || 'rgba(128, 128, 128, 0.15)';
  const edge = { stroke: band, width: 1, points: { show: false } };
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    // No drag-to-zoom: on a phone a drag is a scroll.
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: { x: { time: true } },
    series: [
      {},
      { label: 'mean', stroke: line, width: 2, points: { size: 5, fill: line, filter: isolatedPoints } },
      { label: 'min', ...edge },
      { label: 'max', ...edge },
    ],
    bands: [{ series: [3, 2], fill: band }],
    axes: [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 30 },
      {
        stroke: axis,
        grid: { stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        size: 52,
        values: (_u, vals) => vals.map((v) => (v == null ? '' : `${Number(v.toFixed(1))}°`)),
      },
    ],
  };
}
