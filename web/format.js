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

/** A chart bucket's start (and end, for buckets longer than a minute), in local time: `14:05–14:10`, `Mon 14:00–15:00`. */
export function bucketTime(start, stepMs) {
  const d = new Date(start);
  const hm = (t) => t.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
  const day = stepMs >= 3_600_000 ? `${d.toLocaleDateString('en-GB', { weekday: 'short' })} ` : '';
  return stepMs > 60_000 ? `${day}${hm(d)}–${hm(new Date(start + stepMs))}` : hm(d);
}

/** A `datetime-local` input's value (local time, to the minute) for `ms`, and back. */
export function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function fromLocalInput(value) {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A chart step: `5-minute`, `1-hour`. */
export function stepLabel(ms) {
  return ms < 3_600_000 ? `${Math.round(ms / 60_000)}-minute` : `${Math.round(ms / 3_600_000)}-hour`;
}
