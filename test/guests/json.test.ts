/**
 * The guest SDK's JSON reader, parser and writer (guests/sdk/json) against JavaScript's JSON: the harness
 * guests/sdk/tests/json-harness.ts is compiled here and called directly, without the host runtime.
 */
import asc from 'assemblyscript/asc';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Harness {
  memory: WebAssembly.Memory;
  ea_alloc(len: number): number;
  parse_dump(ptr: number, len: number): number;
  parse_write(ptr: number, len: number): number;
  stream_copy(ptr: number, len: number): number;
  validate(ptr: number, len: number): number;
  number_parse(ptr: number, len: number): number;
  number_format(x: number): number;
  string_format(ptr: number, units: number): number;
}

let module: WebAssembly.Module;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'json-harness-'));
  const out = join(dir, 'json-harness.wasm');
  let stderr = '';
  const sink = { write: (s: string | Uint8Array) => ((stderr += String(s)), true) };
  const { error } = await asc.main(
    ['guests/sdk/tests/json-harness.ts', '--baseDir', ROOT, '--outFile', out, '--runtime', 'stub', '-O3s', '--initialMemory', '1', '--maximumMemory', '256', '--noColors'],
    { stdout: sink, stderr: sink },
  );
  if (error) throw new Error(`asc failed: ${stderr}`);
  module = new WebAssembly.Module(readFileSync(out));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh instance (the harness never frees memory, so each test case gets its own). */
function harness(): Harness {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort: () => {
        throw new Error('guest abort');
      },
    },
  });
  return instance.exports as unknown as Harness;
}

function input(h: Harness, bytes: Uint8Array): [number, number] {
  const ptr = h.ea_alloc(bytes.length);
  new Uint8Array(h.memory.buffer, ptr, bytes.length).set(bytes);
  return [ptr, bytes.length];
}

function output(h: Harness, ptr: number): Buffer {
  const len = new DataView(h.memory.buffer).getUint32(ptr, true);
  return Buffer.from(h.memory.buffer.slice(ptr + 4, ptr + 4 + len));
}

/** Decodes the harness's tagged dump back into a JavaScript value; throws with the error message. */
function undump(buf: Buffer): unknown {
  let pos = 0;
  const str = () => {
    const units = buf.readUInt32LE(pos);
    pos += 4;
    let s = '';
    for (let i = 0; i < units; i++) s += String.fromCharCode(buf.readUInt16LE(pos + 2 * i));
    pos += 2 * units;
    return s;
  };
  const value = (): unknown => {
    const tag = buf[pos++];
    switch (tag) {
      case 0: return null;
      case 1: return false;
      case 2: return true;
      case 3: {
        const x = buf.readDoubleLE(pos);
        pos += 8;
        return x;
      }
      case 4: return str();
      case 5: {
        const n = buf.readUInt32LE(pos);
        pos += 4;
        return Array.from({ length: n }, () => value());
      }
      case 6: {
        const n = buf.readUInt32LE(pos);
        pos += 4;
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = str();
          Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true });
        }
        return o;
      }
      default:
        throw new Error(`parse error: ${buf.subarray(1).toString()}`);
    }
  };
  return value();
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** What the guest's DOM parser makes of `text`, or an Error. */
function guestParse(text: string | Uint8Array): unknown {
  const h = harness();
  const bytes = typeof text === 'string' ? utf8(text) : text;
  const r = output(h, h.parse_dump(...input(h, bytes)));
  try {
    return undump(r);
  } catch (e) {
    return e;
  }
}

function guestValid(text: string | Uint8Array): boolean {
  const h = harness();
  return h.validate(...input(h, typeof text === 'string' ? utf8(text) : text)) === 1;
}

function guestNumber(h: Harness, text: string): number {
  return h.number_parse(...input(h, utf8(text)));
}

function jsParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return e;
  }
}

/** Deep equality where numbers compare with Object.is (so -0 and 0 differ). */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** Decimal number texts per the RFC 8259 grammar, from short to very long, with any exponent. */
const decimalText = fc
  .record({
    neg: fc.boolean(),
    int: fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,25}$/), fc.stringMatching(/^[1-9][0-9]{0,5}0{0,30}$/)),
    frac: fc.option(fc.oneof(fc.stringMatching(/^[0-9]{1,25}$/), fc.stringMatching(/^0{0,30}[1-9][0-9]{0,20}$/)), { nil: undefined }),
    exp: fc.option(
      fc.record({ e: fc.constantFrom('e', 'E'), sign: fc.constantFrom('', '+', '-'), digits: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 400 })) }),
      { nil: undefined },
    ),
  })
  .map(({ neg, int, frac, exp }) => `${neg ? '-' : ''}${int}${frac !== undefined ? `.${frac}` : ''}${exp ? `${exp.e}${exp.sign}${exp.digits}` : ''}`);

/** Numbers right at or next to a halfway point between two doubles: the hard cases for rounding. */
function halfwayTexts(x: number): string[] {
  if (!Number.isFinite(x) || x === 0) return [];
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, bits + 1n);
  const next = view.getFloat64(0);
  if (!Number.isFinite(next)) return [];
  // The exact midpoint of x and next, written out in full with BigInt arithmetic.
  const exact = (v: number): [bigint, number] => {
    view.setFloat64(0, v);
    const b = view.getBigUint64(0);
    const e = Number(b >> 52n);
    const m = (b & ((1n << 52n) - 1n)) | (e === 0 ? 0n : 1n << 52n);
    return [m, (e === 0 ? 1 : e) - 1075];
  };
  const [m1, e1] = exact(Math.abs(x));
  const mid2 = 2n * m1 + 1n; // (x + next) = mid2 * 2^e1 / 2... as 2m+1 over 2^(1-e1)
  const shift = -(e1 - 1); // mid = mid2 / 2^shift
  if (shift <= 0) {
    const v = mid2 << BigInt(-shift);
    return [v.toString(), (v + 1n).toString(), (v - 1n).toString()].map((t) => (x < 0 ? `-${t}` : t));
  }
  // mid = mid2 * 5^shift / 10^shift
  const digits = (mid2 * 5n ** BigInt(shift)).toString();
  const point = digits.length - shift;
  const text = point > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${'0'.repeat(-point)}${digits}`;
  const sign = x < 0 ? '-' : '';
  return [`${sign}${text}`, `${sign}${text}0000000000000000000001`, `${sign}${text.replace(/5$/, '49999999999999999999')}`];
}

describe('numbers', () => {
  it('parses every double written by JavaScript back to the same double', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const h = harness();
        for (const x of xs) {
          for (const text of [JSON.stringify(x), x.toExponential(), x.toPrecision(17), x.toPrecision(20)]) {
            if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text)) continue;
            expect(Object.is(guestNumber(h, text), JSON.parse(text)), text).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('parses any decimal text to the double JSON.parse gives', () => {
    fc.assert(
      fc.property(fc.array(decimalText, { minLength: 1, maxLength: 40 }), (texts) => {
        const h = harness();
        for (const text of texts) expect(Object.is(guestNumber(h, text), JSON.parse(text)), text).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('rounds halfway cases exactly (ties to even, any digit beyond deciding)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const h = harness();
        for (const text of halfwayTexts(x)) expect(Object.is(guestNumber(h, text), JSON.parse(text)), text).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('handles the classic hard cases', () => {
    const h = harness();
    const cases = [
      '0', '-0', '0.0', '-0.0e5', '1', '9007199254740991', '9007199254740992', '9007199254740993', '9007199254740995',
      '18446744073709551615', '18446744073709551616', '1e23', '8.98846567431158e307', '1.7976931348623157e308',
      '1.7976931348623158e308', '1.7976931348623159e308', '1e309', '-1e400', '2.2250738585072011e-308', '2.2250738585072012e-308',
      '2.2250738585072014e-308', '4.9406564584124654e-324', '2.4703282292062327e-324', '2.4703282292062328e-324', '5e-324',
      '1e-400', '123456789012345678901234567890e-10', '0.1', '0.2', '0.3', '21.299999999999997', '21.3', '1e22', '1e-22',
      '3.0540412e5', '7.038531e-26', '0.000000000000000000000000000000000001', '1' + '0'.repeat(400) + 'e-400',
      '0.' + '0'.repeat(340) + '1e340', '2.' + '2'.repeat(800) + 'e-308', '9'.repeat(1000),
      '1.00000000000000011102230246251565404236316680908203125', '1.00000000000000011102230246251565404236316680908203124',
      '1.00000000000000011102230246251565404236316680908203126',
    ];
    for (const text of cases) expect(Object.is(guestNumber(h, text), JSON.parse(text)), text).toBe(true);
  });

  it('rejects text that is not a JSON number', () => {
    const h = harness();
    for (const text of ['', '-', '+1', '01', '1.', '.5', '1e', '1e+', '0x10', 'Infinity', 'NaN', '1 ', ' 1', '1.5.5', '--1', '1e5.5']) {
      expect(guestNumber(h, text), text).toBeNaN();
    }
  });

  it('writes every double so that JSON.parse gives it back, like JavaScript for integers', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        const h = harness();
        const text = output(h, h.number_format(x)).toString();
        if (!Number.isFinite(x)) {
          expect(text).toBe('null');
          return;
        }
        expect(Object.is(JSON.parse(text), x), `${x} -> ${text}`).toBe(true);
        if (Number.isInteger(x) && Math.abs(x) < 2 ** 53 && !Object.is(x, -0)) expect(text).toBe(String(x));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('strings', () => {
  it('escapes every string exactly like JSON.stringify (lone surrogates included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const h = harness();
        const units = new Uint8Array(s.length * 2);
        for (let i = 0; i < s.length; i++) new DataView(units.buffer).setUint16(2 * i, s.charCodeAt(i), true);
        const ptr = h.ea_alloc(units.length);
        new Uint8Array(h.memory.buffer, ptr, units.length).set(units);
        expect(output(h, h.string_format(ptr, s.length)).toString()).toBe(JSON.stringify(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes every escape, surrogate pairs and lone surrogates as JSON.parse does', () => {
    const cases = ['"\\u0041\\u00e9\\u20ac\\ud83d\\ude00"', '"\\ud800"', '"\\udc00\\ud800"', '"\\ud800\\u0041"', '"\\ud800\\ud800\\udc00"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\u2028\u2029"', '"\\u00E9\\uD83D\\uDE00"'];
    for (const text of cases) expect(sameValue(guestParse(text), JSON.parse(text)), text).toBe(true);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.boolean(), (s, asciiOnly) => {
        const text = asciiOnly ? JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : JSON.stringify(s);
        expect(sameValue(guestParse(text), JSON.parse(text)), text).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects invalid UTF-8 and raw control characters', () => {
    const bad = [
      [0x22, 0xff, 0x22], [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xe0, 0x80, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22],
      [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xc3, 0x22], [0x22, 0x01, 0x22], [0x22, 0x0a, 0x22], [0xef, 0xbb, 0xbf, 0x31],
    ];
    for (const bytes of bad) {
      expect(guestValid(new Uint8Array(bytes)), Buffer.from(bytes).toString('hex')).toBe(false);
      expect(guestParse(new Uint8Array(bytes))).toBeInstanceOf(Error);
    }
    expect(guestValid(new Uint8Array([0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22]))).toBe(true);
  });
});

describe('documents', () => {
  const jsonText = fc.oneof(
    fc.json({ maxDepth: 6 }),
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v, null, 2)),
    fc.jsonValue({ maxDepth: 6 }).map((v) => ` \t\r\n${JSON.stringify(v)}\n `),
  );

  it('(c) parses any JSON text to the same value as JSON.parse', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(sameValue(guestParse(text), JSON.parse(text)), text).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes a parsed document back as JSON that reads the same', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const h = harness();
        const out = output(h, h.parse_write(...input(h, utf8(text)))).toString();
        expect(sameValue(JSON.parse(out), JSON.parse(text)), out).toBe(true);
        const h2 = harness();
        const streamed = output(h2, h2.stream_copy(...input(h2, utf8(text)))).toString();
        expect(streamed).toBe(out);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts and rejects exactly what JSON.parse does (mutated documents)', () => {
    const mutation = fc.record({ at: fc.nat(), kind: fc.constantFrom('delete', 'insert', 'replace'), ch: fc.constantFrom(...'{}[],:"\\ 0123456789.eE+-tfnulrsa\t\n'.split('')) });
    fc.assert(
      fc.property(fc.json({ maxDepth: 5 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, mutations) => {
        let t = text;
        for (const m of mutations) {
          const i = t.length === 0 ? 0 : m.at % t.length;
          if (m.kind === 'delete') t = t.slice(0, i) + t.slice(i + 1);
          else if (m.kind === 'insert') t = t.slice(0, i) + m.ch + t.slice(i);
          else t = t.slice(0, i) + m.ch + t.slice(i + 1);
        }
        const js = jsParse(t);
        expect(guestValid(t), t).toBe(!(js instanceof Error));
        const parsed = guestParse(t);
        if (js instanceof Error) {
          expect(parsed, t).toBeInstanceOf(Error);
        } else if (!(parsed instanceof Error && /duplicate key/.test(parsed.message))) {
          expect(sameValue(parsed, js), t).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects duplicate keys in the document model', () => {
    expect(String(guestParse('{"a":1,"b":2,"a":3}'))).toMatch(/duplicate key "a"/);
    const many = `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k7":0}`;
    expect(String(guestParse(many))).toMatch(/duplicate key "k7"/);
    expect(sameValue(guestParse('{"a":{"a":1},"b":{"a":2}}'), { a: { a: 1 }, b: { a: 2 } })).toBe(true);
    // Keys are compared after decoding escapes.
    expect(String(guestParse('{"a":1,"\\u0061":2}'))).toMatch(/duplicate key/);
  });

  it('limits nesting to 64 levels', () => {
    const nest = (d: number) => '['.repeat(d) + ']'.repeat(d);
    expect(guestValid(nest(64))).toBe(true);
    expect(guestValid(nest(65))).toBe(false);
    expect(String(guestParse(nest(65)))).toMatch(/nesting too deep/);
    expect(guestValid('{"a":'.repeat(64) + '1' + '}'.repeat(64))).toBe(true);
    expect(guestValid('{"a":'.repeat(65) + '1' + '}'.repeat(65))).toBe(false);
    expect(guestValid('['.repeat(100_000))).toBe(false);
  });

  it('rejects what RFC 8259 does not allow', () => {
    for (const text of ['', ' ', '{', '}', '[1,]', '{"a":1,}', '{a:1}', "{'a':1}", '[1 2]', '{"a" 1}', 'tru', 'nul', 'True', '[NaN]', '[-Infinity]', '"a', '1 2', '[1]]', '// x\n1', '\u00a01', '"\\x41"', '"\\u12"', '"\\uZZZZ"']) {
      expect(guestValid(text), JSON.stringify(text)).toBe(false);
      expect(jsParse(text), JSON.stringify(text)).toBeInstanceOf(Error);
    }
  });
});
