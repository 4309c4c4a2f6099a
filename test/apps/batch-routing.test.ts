/**
 * A gateway's batch split between the stable version and a canary (issue 15, "Canary sticky per device"):
 * the host finds each item's raw text in any JSON array, and a batch split by device is answered item by
 * item in its original order, whatever the sides.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readingsSplitter, routedCall, type AppVersions } from '../../src/apps/index.js';
import { arrayItems } from '../../src/apps/aggregator/batch-routing.js';
import type { GuestHttpRequest, GuestModule, HttpCallResult } from '../../src/runtime/index.js';

const ws = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 });

/** A JSON string's text: brackets, braces, commas, quotes and backslashes, raw or escaped every way JSON allows. */
const stringText = fc
  .array(
    fc.oneof(
      fc.constantFrom('[', ']', '{', '}', ',', ':', ' ', 'a', 'é', '😀', '\u2028'),
      fc.constantFrom('\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u005d', '\\u005B', '\\u0022', '\\u005c', '\\ud83d\\ude00'),
      fc.string({ maxLength: 4 }).map((s) => JSON.stringify(s).slice(1, -1)),
    ),
    { maxLength: 8 },
  )
  .map((units) => `"${units.join('')}"`);

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.constantFrom('0', '-0', '1e5', '-2.5E-3', '1E+2', '0.000'),
);

/** The text of any JSON value, with whitespace of every kind between its tokens. */
const { value: valueText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constantFrom('true', 'false', 'null'), numberText, stringText, tie('array'), tie('object')),
  array: fc
    .tuple(ws, fc.array(fc.tuple(ws, tie('value'), ws), { maxLength: 4 }))
    .map(([empty, items]) => (items.length === 0 ? `[${empty}]` : `[${items.map(([a, v, b]) => a + v + b).join(',')}]`)),
  object: fc
    .tuple(ws, fc.array(fc.tuple(ws, stringText, ws, ws, tie('value'), ws), { maxLength: 4 }))
    .map(([empty, members]) => (members.length === 0 ? `{${empty}}` : `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}`)),
}));

/** A top-level JSON array and the text of each of its elements. */
const arrayText = fc
  .tuple(ws, ws, fc.array(fc.tuple(ws, valueText, ws), { maxLength: 12 }), ws)
  .map(([before, empty, items, after]) => ({
    text: `${before}[${items.length === 0 ? empty : items.map(([a, v, b]) => a + v + b).join(',')}]${after}`,
    items: items.map(([, v]) => v),
  }));

describe('arrayItems', () => {
  it('returns the raw text of each element of any JSON array', () => {
    fc.assert(
      fc.property(arrayText, ({ text, items }) => {
        // The generator makes JSON, and each item is the element it claims to be.
        const parsed = JSON.parse(text) as unknown[];
        expect(items.map((t) => JSON.parse(t) as unknown)).toEqual(parsed);
        expect(arrayItems(text)).toEqual(items);
      }),
      { seed: 15_201, numRuns: 600 },
    );
  });

  it('returns undefined for any JSON value that is not an array', () => {
    const notArray = fc.tuple(ws, valueText, ws).filter(([, v]) => !v.startsWith('['));
    fc.assert(
      fc.property(notArray, ([a, v, b]) => {
        JSON.parse(a + v + b);
        return arrayItems(a + v + b) === undefined;
      }),
      { seed: 15_202, numRuns: 400 },
    );
  });

  it('returns undefined for an array cut short, or followed by anything but whitespace', () => {
    fc.assert(
      fc.property(arrayText, fc.nat(), valueText, ({ text }, cut, extra) => {
        const end = text.lastIndexOf(']');
        return arrayItems(text.slice(0, cut % (end + 1))) === undefined && arrayItems(`${text}${extra}`) === undefined && arrayItems(`${text},${extra}`) === undefined;
      }),
      { seed: 15_203, numRuns: 400 },
    );
  });

  it('keeps brackets, braces and commas inside strings inside the element', () => {
    expect(arrayItems('[ "a]b" , {"x":"},{"} ,"\\"]" ,[1,"[" ] ]')).toEqual(['"a]b"', '{"x":"},{"}', '"\\"]"', '[1,"[" ]']);
    expect(arrayItems('[]')).toEqual([]);
    expect(arrayItems(' [ \n ] ')).toEqual([]);
  });
});

const DEVICES = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];

interface Item {
  seq: number;
  device_id?: unknown;
}

/** A batch of readings: each item a device of DEVICES, another string, a non-string, or none. */
const batch = fc.array(fc.oneof(fc.constantFrom(...DEVICES), fc.string({ maxLength: 3 }), fc.constant(7), fc.constant(undefined)), { minLength: 0, maxLength: 30 });

function itemsOf(devices: unknown[]): Item[] {
  return devices.map((d, seq) => (d === undefined ? { seq } : { seq, device_id: d }));
}

function request(items: Item[], ndjson: boolean, spacing: string): GuestHttpRequest {
  const texts = items.map((i) => JSON.stringify(i));
  const body = ndjson ? texts.join('\n') : `[${texts.join(`,${spacing}`)}]`;
  return { method: 'POST', path: '/v1/readings', query: '', contentType: ndjson ? 'application/x-ndjson' : 'application/json', principal: { kind: 'gateway', subject: 'gw' }, body: Buffer.from(body) };
}

function itemTexts(req: GuestHttpRequest): string[] {
  const text = Buffer.from(req.body).toString('utf8');
  return req.contentType === 'application/x-ndjson' ? text.split('\n').filter((line) => line !== '') : arrayItems(text)!;
}

interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: Array<{ seq: number; version: string; status: string }>;
}

/** The guest's answer to a batch: one result per item, in order; a seq divisible by 5 is refused. */
function guestAnswer(req: GuestHttpRequest, version: string): HttpCallResult {
  const results = itemTexts(req).map((t) => {
    const { seq } = JSON.parse(t) as Item;
    return { seq, version, status: seq % 5 === 0 ? 'rejected' : seq % 3 === 0 ? 'duplicate' : 'accepted' };
  });
  const count = (s: string): number => results.filter((r) => r.status === s).length;
  const answer: BatchAnswer = { accepted: count('accepted'), duplicates: count('duplicate'), rejected: count('rejected'), results };
  return { status: answer.accepted + answer.duplicates > 0 ? 200 : 422, contentType: 'application/json', body: Buffer.from(JSON.stringify(answer)), newEvents: [] };
}

function fakeModule(version: string): GuestModule {
  return { version, invokeHttp: (req: GuestHttpRequest) => guestAnswer(req, version) } as unknown as GuestModule;
}

describe('a batch split between the stable version and a canary', () => {
  const sides = fc.tuple(batch, fc.subarray(DEVICES), fc.boolean(), fc.constantFrom('', ' ', '\n\t'));

  it('sends each side its items byte for byte, and merges the answers in the original item order', () => {
    fc.assert(
      fc.property(sides, ([devices, canaryDevices, ndjson, spacing]) => {
        const items = itemsOf(devices);
        const onCanary = items.map((i) => typeof i.device_id === 'string' && canaryDevices.includes(i.device_id));
        const req = request(items, ndjson, spacing);
        const split = readingsSplitter.split(req, (d) => canaryDevices.includes(d));
        if (items.length > 0 && onCanary.every((s) => s)) {
          // Every reading is a canary device's: the canary answers the whole request.
          expect(split).toBe('canary');
          return;
        }
        if (onCanary.every((s) => !s)) {
          expect(split).toBeUndefined();
          return;
        }
        if (split === undefined || split === 'canary') throw new Error(`not split: ${String(split)}`);
        expect(split.sides).toEqual(onCanary);
        const texts = itemTexts(req);
        expect(itemTexts(split!.stable)).toEqual(texts.filter((_t, i) => !onCanary[i]));
        expect(itemTexts(split!.canary)).toEqual(texts.filter((_t, i) => onCanary[i]));
        expect(split!.stable.contentType).toBe(req.contentType);

        const merged = readingsSplitter.merge(guestAnswer(split!.stable, 'stable'), guestAnswer(split!.canary, 'canary'), split!)!;
        const alone = JSON.parse(Buffer.from(guestAnswer(req, 'x').body).toString()) as BatchAnswer;
        const answer = JSON.parse(Buffer.from(merged.body).toString()) as BatchAnswer;
        expect(answer.results.map((r) => r.seq)).toEqual(items.map((i) => i.seq));
        expect(answer.results.map((r) => r.version)).toEqual(onCanary.map((c) => (c ? 'canary' : 'stable')));
        expect(answer.results.map((r) => r.status)).toEqual(alone.results.map((r) => r.status));
        expect([answer.accepted, answer.duplicates, answer.rejected]).toEqual([alone.accepted, alone.duplicates, alone.rejected]);
        expect(merged.status).toBe(alone.accepted + alone.duplicates > 0 ? 200 : 422);
      }),
      { seed: 15_204, numRuns: 500 },
    );
  });

  it('cannot merge an answer that is not a batch answer for its items (then one version answers it all)', () => {
    const req = request(itemsOf(['d0', 'd1', 'd2']), false, '');
    const split = readingsSplitter.split(req, (d) => d === 'd1');
    if (split === undefined || split === 'canary') throw new Error(`not split: ${String(split)}`);
    const stable = guestAnswer(split.stable, 'stable');
    const canary = guestAnswer(split.canary, 'canary');
    expect(readingsSplitter.merge(stable, canary, split)).toBeDefined();
    expect(readingsSplitter.merge(stable, { ...canary, status: 500 }, split)).toBeUndefined();
    expect(readingsSplitter.merge(stable, { ...canary, body: Buffer.from('not json') }, split)).toBeUndefined();
    expect(readingsSplitter.merge(stable, stable, split)).toBeUndefined(); // two results for one canary item
  });

  it('answers a routed batch in item order, naming both versions when split and one when not', () => {
    const stable = fakeModule('1.0.0');
    const canary = fakeModule('2.0.0');
    fc.assert(
      fc.property(sides, ([devices, canaryDevices, ndjson, spacing]) => {
        const observed: string[] = [];
        const versions: AppVersions = {
          app: 'aggregator',
          stable: () => stable,
          canaryFor: (d) => (canaryDevices.includes(d) ? canary : undefined),
          observe: (m) => observed.push(m.version),
        };
        const items = itemsOf(devices);
        const onCanary = items.map((i) => typeof i.device_id === 'string' && canaryDevices.includes(i.device_id));
        const split = items.length >= 2 && onCanary.some((s) => s) && onCanary.some((s) => !s);
        const result = routedCall(versions, undefined, (fn) => fn(), readingsSplitter)(request(items, ndjson, spacing));
        const answer = JSON.parse(Buffer.from(result.body).toString()) as BatchAnswer;
        expect(answer.results.map((r) => r.seq)).toEqual(items.map((i) => i.seq));
        if (split) {
          expect(answer.results.map((r) => r.version)).toEqual(onCanary.map((c) => (c ? '2.0.0' : '1.0.0')));
          expect(result.servedBy).toEqual(['1.0.0', '2.0.0']);
          expect(observed).toEqual(['1.0.0', '2.0.0']);
        } else {
          // Not split: one version answers every item, and says so.
          expect(result.servedBy).toHaveLength(1);
          expect(new Set(answer.results.map((r) => r.version))).toEqual(new Set(items.length === 0 ? [] : result.servedBy));
          expect(observed).toEqual(result.servedBy);
        }
      }),
      { seed: 15_205, numRuns: 300 },
    );
  });
});
