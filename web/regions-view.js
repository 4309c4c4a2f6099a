/** Which regions the dashboard shows and in what order (no DOM: unit-tested in Node). */

/** The orders offered: each compares two { name, mean, lastSeen } rows. */
export const SORTS = {
  name: { label: 'name', compare: (a, b) => byName(a, b) },
  'mean-desc': { label: 'mean, warmest first', compare: (a, b) => nullsLast(a.mean, b.mean, (x, y) => y - x) || byName(a, b) },
  'mean-asc': { label: 'mean, coldest first', compare: (a, b) => nullsLast(a.mean, b.mean, (x, y) => x - y) || byName(a, b) },
  // Oldest first: what an operator looks for is the region that went quiet.
  'last-seen': { label: 'last seen, quietest first', compare: (a, b) => nullsLast(a.lastSeen, b.lastSeen, (x, y) => x - y) || byName(a, b) },
};

/** A region with no reading for this long is shown as silent. */
export const SILENT_AFTER_MS = 10 * 60_000;
/** Beyond this many shown regions, tiles become one-line rows with a sparkline. */
export const COMPACT_AFTER = 6;

function byName(a, b) {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function nullsLast(x, y, compare) {
  const xn = typeof x !== 'number';
  const yn = typeof y !== 'number';
  if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;
  return compare(x, y);
}

/**
 * The names of the rows that match `query` (a case-insensitive substring of the name; several words
 * must all match), in the order `sort`.
 */
export function visibleRegions(rows, { query = '', sort = 'name' } = {}) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const compare = (SORTS[sort] ?? SORTS.name).compare;
  return rows
    .filter((r) => words.every((w) => r.name.toLowerCase().includes(w)))
    .sort(compare)
    .map((r) => r.name);
}

export function isSilent(lastSeen, now = Date.now(), after = SILENT_AFTER_MS) {
  return typeof lastSeen === 'number' && now - lastSeen > after;
}
