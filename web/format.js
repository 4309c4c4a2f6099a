/** Formatting for the dashboard: fixed decimals (not the locale's), so numbers read the same everywhere. */

/** A temperature in °C with two decimals, or an em dash when there is none. */
export function temp(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  const s = value.toFixed(2);
  return s === '-0.00' ? '0.00' : s;
}

export function count(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '—';
}

/** A rate per second: one decimal below 100, none above. */
export function rate(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return `${value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')}/s`;
}

/** How long ago `timestamp` (ms since the epoch) was, from `now`. */
export function age(timestamp, now = Date.now()) {
  const s = Math.round((now - timestamp) / 1000);
  if (s < -1) return 'in the future';
  if (s <= 1) return 'just now';
  if (s < 90) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function clock(timestamp) {
  return new Date(timestamp).toLocaleTimeString('en-GB', { hour12: false });
}
