/**
 * How a batch of readings from a gateway is split between the stable version and a canary by each
 * reading's `device_id`, and how the two answers are merged back into one, item by item in the original
 * order (docs/api.md, `POST /v1/readings`). The host splits on the raw text of each item, never a
 * re-serialization, so every item reaches its version byte for byte and gets the answer it would get alone.
 * Anything it cannot split exactly (not a JSON array or NDJSON, an item it cannot read) goes whole to the
 * stable version.
 */
import type { GuestHttpRequest, HttpCallResult } from '../../runtime/index.js';
import type { BatchSplitter } from '../version-routing.js';

/** The most readings in one request (docs/api.md): a larger batch is refused whole, so it is never split. */
const MAX_BATCH = 10_000;

interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: unknown[];
}

export const readingsSplitter: BatchSplitter = {
  split(request, isCanary) {
    const text = Buffer.from(request.body).toString('utf8');
    const ndjson = request.contentType === 'application/x-ndjson';
    // A JSON body that is not an array is one reading.
    const items = ndjson ? ndjsonItems(text) : request.contentType === 'application/json' ? (arrayItems(text) ?? [text]) : undefined;
    // A batch the guest refuses whole (empty, or too many items) must reach it whole.
    if (!items || items.length === 0 || items.length > MAX_BATCH) return undefined;
    const sides: boolean[] = [];
    for (const item of items) {
      const value = parse(item);
      // A JSON array with an item that is not JSON is refused whole (invalid_json): the stable version says so.
      if (value === NOT_JSON && !ndjson) return undefined;
      const device = deviceOf(value);
      sides.push(device !== undefined && isCanary(device));
    }
    if (sides.every((s) => s)) return 'canary';
    if (sides.every((s) => !s)) return undefined;
    const part = (canary: boolean): GuestHttpRequest => {
      const chosen = items.filter((_item, i) => sides[i] === canary);
      const body = ndjson ? chosen.join('\n') : `[${chosen.join(',')}]`;
      return { ...request, body: Buffer.from(body, 'utf8') };
    };
    return { stable: part(false), canary: part(true), sides };
  },

  merge(stable, canary, split) {
    const a = answer(stable);
    const b = answer(canary);
    if (!a || !b || a.results.length + b.results.length !== split.sides.length) return undefined;
    let i = 0;
    let j = 0;
    const results = split.sides.map((onCanary) => (onCanary ? b.results[j++] : a.results[i++]));
    const merged: BatchAnswer = {
      accepted: a.accepted + b.accepted,
      duplicates: a.duplicates + b.duplicates,
      rejected: a.rejected + b.rejected,
      results,
    };
    return {
      status: merged.accepted + merged.duplicates > 0 ? 200 : 422,
      contentType: stable.contentType,
      body: Buffer.from(JSON.stringify(merged), 'utf8'),
    };
  },
};

/** The batch answer of a part (200 or 422 with one result per item), or undefined for anything else. */
function answer(result: HttpCallResult): BatchAnswer | undefined {
  if (result.status !== 200 && result.status !== 422) return undefined;
  try {
    const body = JSON.parse(Buffer.from(result.body).toString('utf8')) as Partial<BatchAnswer>;
    if (!Array.isArray(body.results) || typeof body.accepted !== 'number' || typeof body.duplicates !== 'number' || typeof body.rejected !== 'number') return undefined;
    return body as BatchAnswer;
  } catch {
    return undefined;
  }
}

const NOT_JSON = Symbol('not JSON');

function parse(item: string): unknown {
  try {
    return JSON.parse(item) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The `device_id` of an item, when it is an object with a string one (else the stable version answers it). */
function deviceOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const device = (value as { device_id?: unknown }).device_id;
  return typeof device === 'string' ? device : undefined;
}

/** The non-blank lines of an NDJSON body, as the guest counts them (blank: only spaces, tabs or `\r`). */
function ndjsonItems(text: string): string[] {
  return text.split('\n').filter((line) => !/^[ \t\r]*$/.test(line));
}

/** The raw text of each element of a top-level JSON array, or undefined when the text is not one. */
export function arrayItems(text: string): string[] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== '[') return undefined;
  i = skipSpace(text, i + 1);
  const items: string[] = [];
  if (text[i] === ']') return skipSpace(text, i + 1) === text.length ? items : undefined;
  for (;;) {
    const start = i;
    const end = valueEnd(text, i);
    // An empty element (`[,1]`, `[1,,2]`) is not JSON.
    if (end === undefined || end === start) return undefined;
    items.push(text.slice(start, end));
    i = skipSpace(text, end);
    if (text[i] === ',') {
      i = skipSpace(text, i + 1);
      continue;
    }
    if (text[i] === ']') return skipSpace(text, i + 1) === text.length ? items : undefined;
    return undefined;
  }
}

/** Where the JSON value starting at `i` ends (strings and nesting respected), or undefined if it does not. */
function valueEnd(text: string, i: number): number | undefined {
  let depth = 0;
  for (let k = i; k < text.length; k++) {
    const c = text[k];
    if (c === '"') {
      k++;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      if (k >= text.length) return undefined;
      if (depth === 0) return k + 1;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return k;
      depth--;
      if (depth === 0) return k + 1;
    } else if (depth === 0 && (c === ',' || c === ' ' || c === '\t' || c === '\n' || c === '\r')) {
      return k;
    }
  }
  return depth === 0 ? text.length : undefined;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

