/**
 * The contract of {@link GuestStore}: every implementation runs this suite (see memory-store.test.ts and
 * sqlite-store.test.ts). Examples pin each rule; the properties at the end compare random operation
 * sequences, nested `atomically` calls and throws included, with a deliberately naive model.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendOutcome, GuestStore, StoredEvent } from '../../src/runtime/store.js';
import { bytes, fromHex, hex, utf8 } from '../helpers/bytes.js';
import { thrownBy } from '../helpers/errors.js';

export interface OpenedStore {
  store: GuestStore;
  close(): void;
}

const hexOrNull = (value: Uint8Array | undefined): string | null => hex(value) ?? null;

function event(source: string, timeMs: number, payload: Uint8Array = bytes(1), partition = 'eu'): StoredEvent {
  return { partition, source, timeMs, payload };
}

class Sentinel extends Error {
  override name = 'Sentinel';
}

export function describeStoreConformance(name: string, open: () => OpenedStore): void {
  describe(`GuestStore conformance: ${name}`, () => {
    let opened: OpenedStore;
    let store: GuestStore;
    beforeEach(() => {
      opened = open();
      store = opened.store;
    });
    afterEach(() => opened.close());

    const list = (ns: string, prefix: Uint8Array, after?: Uint8Array, limit = 1000): string[] =>
      store.kvList(ns, prefix, after, limit).map(hex);
    const putAll = (ns: string, keys: Uint8Array[]): void => {
      for (const key of keys) store.kvPut(ns, key, bytes(1));
    };

    describe('kv get / put / delete', () => {
      it('returns undefined for a key never written, in a new or a used namespace', () => {
        expect(store.kvGet('ns', bytes(1))).toBeUndefined();
        store.kvPut('ns', bytes(1), bytes(9));
        expect(store.kvGet('ns', bytes(2))).toBeUndefined();
        expect(store.kvGet('ns', bytes(1, 0))).toBeUndefined();
      });

      it('returns what was put, and the last value after overwrites', () => {
        store.kvPut('ns', utf8('k'), utf8('one'));
        expect(hexOrNull(store.kvGet('ns', utf8('k')))).toBe(hex(utf8('one')));
        store.kvPut('ns', utf8('k'), utf8('a longer second value'));
        store.kvPut('ns', utf8('k'), utf8('3'));
        expect(hexOrNull(store.kvGet('ns', utf8('k')))).toBe(hex(utf8('3')));
        expect(list('ns', bytes())).toEqual([hex(utf8('k'))]);
      });

      it('keeps an empty value as empty, not absent', () => {
        store.kvPut('ns', bytes(1), bytes());
        const value = store.kvGet('ns', bytes(1));
        expect(value).toBeInstanceOf(Uint8Array);
        expect(value?.byteLength).toBe(0);
        expect(list('ns', bytes())).toEqual(['01']);
        expect(store.kvDelete('ns', bytes(1))).toBe(true);
      });

      it('keeps values of every byte and of some size', () => {
        const all = new Uint8Array(256).map((_, i) => i);
        const large = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
        store.kvPut('ns', bytes(0xff, 0x00), all);
        store.kvPut('ns', bytes(0x80), large);
        expect(hexOrNull(store.kvGet('ns', bytes(0xff, 0x00)))).toBe(hex(all));
        expect(hexOrNull(store.kvGet('ns', bytes(0x80)))).toBe(hex(large));
      });

      it('deletes: true if the key existed, false otherwise', () => {
        expect(store.kvDelete('never', bytes(1))).toBe(false);
        store.kvPut('ns', bytes(1), bytes(1));
        expect(store.kvDelete('ns', bytes(2))).toBe(false);
        expect(store.kvDelete('ns', bytes(1))).toBe(true);
        expect(store.kvGet('ns', bytes(1))).toBeUndefined();
        expect(store.kvDelete('ns', bytes(1))).toBe(false);
        expect(list('ns', bytes())).toEqual([]);
        store.kvPut('ns', bytes(1), bytes(2));
        expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('02');
      });

      it('keeps namespaces fully separate, even when one name is a prefix of another', () => {
        const names = ['app', 'app@1', 'app@1.0', 'ap', 'App', ''];
        names.forEach((ns, i) => store.kvPut(ns, utf8('key'), bytes(i)));
        store.kvPut('app', utf8('only-app'), bytes(9));
        names.forEach((ns, i) => expect(hexOrNull(store.kvGet(ns, utf8('key')))).toBe(hex(bytes(i))));
        expect(list('app', bytes())).toEqual([hex(utf8('key')), hex(utf8('only-app'))]);
        expect(list('app@1', bytes())).toEqual([hex(utf8('key'))]);
        expect(store.kvGet('app@1', utf8('only-app'))).toBeUndefined();
        expect(store.kvDelete('app@1', utf8('only-app'))).toBe(false);
        expect(store.kvDelete('app@1', utf8('key'))).toBe(true);
        expect(hexOrNull(store.kvGet('app', utf8('key')))).toBe('00');
        expect(hexOrNull(store.kvGet('app@1.0', utf8('key')))).toBe('02');
      });

      it('copies bytes in and out: later changes to the caller\'s buffers change nothing stored', () => {
        const key = bytes(1, 2);
        const value = bytes(3, 4);
        store.kvPut('ns', key, value);
        key[0] = 9;
        value[0] = 9;
        const read = store.kvGet('ns', bytes(1, 2));
        expect(hexOrNull(read)).toBe('0304');
        read![1] = 9;
        expect(hexOrNull(store.kvGet('ns', bytes(1, 2)))).toBe('0304');
        const listed = store.kvList('ns', bytes(), undefined, 10);
        listed[0]![0] = 7;
        expect(list('ns', bytes())).toEqual(['0102']);
      });

      it('reads only the bytes of a view, not the rest of its buffer', () => {
        const memory = new Uint8Array([0xaa, 1, 2, 0xbb, 5, 6, 7, 0xcc]);
        store.kvPut('ns', memory.subarray(1, 3), memory.subarray(4, 7));
        expect(hexOrNull(store.kvGet('ns', bytes(1, 2)))).toBe('050607');
        expect(hexOrNull(store.kvGet('ns', memory.subarray(1, 3)))).toBe('050607');
        expect(list('ns', memory.subarray(1, 2), memory.subarray(0, 0))).toEqual(['0102']);
        expect(store.kvDelete('ns', memory.subarray(1, 3))).toBe(true);
      });
    });

    describe('kv list', () => {
      it('lists in byte order, bytes >= 0x80 after bytes < 0x80, shorter before longer', () => {
        const keys = [bytes(0xff), bytes(0x80), bytes(0x7f), bytes(0x01, 0x00), bytes(0x00), bytes(0x01), bytes(0xff, 0xff), bytes(0x80, 0x00)];
        putAll('ns', keys);
        expect(list('ns', bytes())).toEqual(['00', '01', '0100', '7f', '80', '8000', 'ff', 'ffff']);
      });

      it('orders UTF-8 keys by their bytes', () => {
        // '😀' sorts before '！' as UTF-16 code units, after it as UTF-8 bytes.
        putAll('ns', ['z', 'é', 'a', 'Z', '€', '😀', '！', 'ꝏ'].map(utf8));
        expect(list('ns', bytes())).toEqual(['Z', 'a', 'z', 'é', '€', 'ꝏ', '！', '😀'].map((s) => hex(utf8(s))));
      });

      it('lists only keys that start with the prefix', () => {
        putAll('ns', [utf8('m1'), utf8('m10'), utf8('m2'), utf8('m'), utf8('n'), utf8('l'), utf8('M1')]);
        expect(list('ns', utf8('m1'))).toEqual([hex(utf8('m1')), hex(utf8('m10'))]);
        expect(list('ns', utf8('m'))).toEqual(['m', 'm1', 'm10', 'm2'].map((s) => hex(utf8(s))));
        expect(list('ns', utf8('x'))).toEqual([]);
        expect(list('ns', utf8('m10x'))).toEqual([]);
      });

      it('handles prefixes ending in 0xff and 0x00', () => {
        putAll('ns', [bytes(0x01, 0xff), bytes(0x01, 0xff, 0x00), bytes(0x01, 0xff, 0xff), bytes(0x02), bytes(0x02, 0x00), bytes(0xff), bytes(0xff, 0xff), bytes(0xff, 0xff, 0x01), bytes(0x01, 0x00)]);
        expect(list('ns', bytes(0x01, 0xff))).toEqual(['01ff', '01ff00', '01ffff']);
        expect(list('ns', bytes(0x01, 0xff, 0xff))).toEqual(['01ffff']);
        expect(list('ns', bytes(0xff, 0xff))).toEqual(['ffff', 'ffff01']);
        expect(list('ns', bytes(0xff))).toEqual(['ff', 'ffff', 'ffff01']);
        expect(list('ns', bytes(0x01, 0x00))).toEqual(['0100']);
        expect(list('ns', bytes(0x02))).toEqual(['02', '0200']);
      });

      it('starts strictly after `after`, whether or not it is a key', () => {
        putAll('ns', [bytes(1), bytes(1, 0), bytes(1, 1), bytes(2), bytes(3)]);
        expect(list('ns', bytes(), bytes(1))).toEqual(['0100', '0101', '02', '03']);
        expect(list('ns', bytes(), bytes(1, 0))).toEqual(['0101', '02', '03']);
        expect(list('ns', bytes(), bytes(1, 0, 0))).toEqual(['0101', '02', '03']);
        expect(list('ns', bytes(), bytes(0))).toEqual(['01', '0100', '0101', '02', '03']);
        expect(list('ns', bytes(), bytes(3))).toEqual([]);
        expect(list('ns', bytes(), bytes(0xff))).toEqual([]);
      });

      it('combines prefix and after: after below, inside and above the prefix range', () => {
        putAll('ns', [bytes(1), bytes(2), bytes(2, 1), bytes(2, 2), bytes(2, 0xff), bytes(3)]);
        expect(list('ns', bytes(2), bytes(1))).toEqual(['02', '0201', '0202', '02ff']);
        expect(list('ns', bytes(2), bytes(1, 0xff, 0xff))).toEqual(['02', '0201', '0202', '02ff']);
        expect(list('ns', bytes(2), bytes(2))).toEqual(['0201', '0202', '02ff']);
        expect(list('ns', bytes(2), bytes(2, 1, 5))).toEqual(['0202', '02ff']);
        expect(list('ns', bytes(2), bytes(2, 0xff))).toEqual([]);
        expect(list('ns', bytes(2), bytes(3))).toEqual([]);
      });

      it('returns at most `limit` keys, none for a limit of 0', () => {
        putAll('ns', [bytes(1), bytes(2), bytes(3)]);
        expect(list('ns', bytes(), undefined, 2)).toEqual(['01', '02']);
        expect(list('ns', bytes(), undefined, 1)).toEqual(['01']);
        expect(list('ns', bytes(), undefined, 0)).toEqual([]);
        expect(list('ns', bytes(), undefined, 3)).toEqual(['01', '02', '03']);
        expect(list('ns', bytes(), undefined, 100)).toEqual(['01', '02', '03']);
      });

      it('pages through a prefix with the last key of each page as `after`', () => {
        const keys: Uint8Array[] = [];
        for (let i = 0; i < 50; i++) keys.push(bytes(0x80, i * 5), bytes(0x7f, i));
        putAll('ns', keys);
        const seen: string[] = [];
        let after: Uint8Array | undefined;
        for (let guard = 0; guard < 100; guard++) {
          const page = store.kvList('ns', bytes(0x80), after, 7);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(7);
          seen.push(...page.map(hex));
          after = page[page.length - 1];
        }
        expect(seen).toEqual(keys.filter((k) => k[0] === 0x80).map(hex).sort());
      });

      it('forgets deleted keys and lists each key once after overwrites', () => {
        putAll('ns', [bytes(1), bytes(2), bytes(3)]);
        store.kvPut('ns', bytes(2), bytes(7, 7));
        store.kvDelete('ns', bytes(1));
        expect(list('ns', bytes())).toEqual(['02', '03']);
        expect(list('other', bytes())).toEqual([]);
      });
    });

    describe('event log', () => {
      it('appends a new event, then reports the same event again as a duplicate', () => {
        expect(store.appendEvent('readings', event('dev-1', 1_700_000_000_000, bytes(1, 2)))).toBe('new');
        expect(store.appendEvent('readings', event('dev-1', 1_700_000_000_000, bytes(1, 2)))).toBe('duplicate');
        expect(store.appendEvent('readings', event('dev-1', 1_700_000_000_000, bytes(1, 2)))).toBe('duplicate');
      });

      it('reports a conflict for the same identity with another payload, and keeps the first', () => {
        store.appendEvent('readings', event('dev-1', 5, bytes(1, 2)));
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1, 3)))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1, 2, 0)))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1)))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes()))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1, 2)))).toBe('duplicate');
      });

      it('reports a conflict for the same identity in another partition, and keeps the first', () => {
        store.appendEvent('readings', event('dev-1', 5, bytes(1), 'eu'));
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'us'))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'EU'))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'eu'))).toBe('duplicate');
        // The partition of the conflicting attempt was never stored with this identity.
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'us'))).toBe('conflict');
      });

      it('reports a conflict for another partition that the log already knows from other events', () => {
        store.appendEvent('readings', event('dev-1', 5, bytes(1), 'eu'));
        store.appendEvent('readings', event('dev-2', 5, bytes(1), 'us'));
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'us'))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-2', 5, bytes(1), 'eu'))).toBe('conflict');
        expect(store.appendEvent('readings', event('dev-1', 5, bytes(1), 'eu'))).toBe('duplicate');
      });

      it('identifies an event by (source, timeMs) only', () => {
        store.appendEvent('readings', event('dev-1', 5));
        expect(store.appendEvent('readings', event('dev-1', 6))).toBe('new');
        expect(store.appendEvent('readings', event('dev-2', 5))).toBe('new');
        expect(store.appendEvent('readings', event('Dev-1', 5))).toBe('new');
        expect(store.appendEvent('readings', event('dev-1 ', 5))).toBe('new');
        expect(store.appendEvent('readings', event('dév-1', 5))).toBe('new');
        expect(store.appendEvent('readings', event('dev-1', 4))).toBe('new');
        for (const [source, time] of [['dev-1', 5], ['dev-1', 6], ['dev-2', 5], ['Dev-1', 5], ['dev-1', 4]] as const) {
          expect(store.appendEvent('readings', event(source, time))).toBe('duplicate');
        }
      });

      it('keeps streams separate', () => {
        expect(store.appendEvent('a', event('dev-1', 5, bytes(1)))).toBe('new');
        expect(store.appendEvent('b', event('dev-1', 5, bytes(2)))).toBe('new');
        expect(store.appendEvent('a@1', event('dev-1', 5, bytes(3)))).toBe('new');
        expect(store.appendEvent('a', event('dev-1', 5, bytes(1)))).toBe('duplicate');
        expect(store.appendEvent('b', event('dev-1', 5, bytes(2)))).toBe('duplicate');
        expect(store.appendEvent('b', event('dev-1', 5, bytes(1)))).toBe('conflict');
      });

      it('keeps event streams apart from kv namespaces of the same name', () => {
        store.kvPut('app', utf8('k'), bytes(1));
        expect(store.appendEvent('app', event('dev-1', 5))).toBe('new');
        expect(list('app', bytes())).toEqual([hex(utf8('k'))]);
      });

      it('accepts an empty payload and the extreme times', () => {
        expect(store.appendEvent('s', event('d', 0, bytes()))).toBe('new');
        expect(store.appendEvent('s', event('d', 0, bytes()))).toBe('duplicate');
        expect(store.appendEvent('s', event('d', 0, bytes(0)))).toBe('conflict');
        const max = Number.MAX_SAFE_INTEGER;
        expect(store.appendEvent('s', event('d', max))).toBe('new');
        expect(store.appendEvent('s', event('d', max - 1))).toBe('new');
        expect(store.appendEvent('s', event('d', max))).toBe('duplicate');
      });

      it('accepts the largest partition, source and payload', () => {
        const big = event('s'.repeat(128), 1, new Uint8Array(4096).fill(0xee), 'p'.repeat(64));
        expect(store.appendEvent('s', big)).toBe('new');
        expect(store.appendEvent('s', { ...big, payload: new Uint8Array(4096).fill(0xee) })).toBe('duplicate');
      });

      it('copies the payload: changing the caller\'s buffer later changes nothing stored', () => {
        const payload = bytes(1, 2, 3);
        store.appendEvent('s', event('d', 1, payload));
        payload[0] = 9;
        expect(store.appendEvent('s', event('d', 1, bytes(1, 2, 3)))).toBe('duplicate');
        const memory = bytes(0xaa, 4, 5, 0xbb);
        expect(store.appendEvent('s', event('d', 2, memory.subarray(1, 3)))).toBe('new');
        expect(store.appendEvent('s', event('d', 2, bytes(4, 5)))).toBe('duplicate');
      });
    });

    describe('atomically', () => {
      it('returns the function\'s value and keeps its writes', () => {
        const result = store.atomically(() => {
          store.kvPut('ns', bytes(1), bytes(1));
          expect(store.appendEvent('s', event('d', 1))).toBe('new');
          expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('01');
          return { answer: 42 };
        });
        expect(result).toEqual({ answer: 42 });
        expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('01');
        expect(store.appendEvent('s', event('d', 1))).toBe('duplicate');
      });

      it('undoes every write when the function throws: puts, overwrites, deletes and events', () => {
        store.kvPut('ns', bytes(1), bytes(1));
        store.kvPut('ns', bytes(2), bytes(2));
        store.appendEvent('s', event('d', 1));
        const error = new Sentinel('guest trapped');
        const thrown = thrownBy(() =>
          store.atomically(() => {
            store.kvPut('ns', bytes(1), bytes(9));
            store.kvDelete('ns', bytes(2));
            store.kvPut('ns', bytes(3), bytes(3));
            store.kvPut('fresh-namespace', bytes(1), bytes(1));
            expect(store.appendEvent('s', event('d', 2))).toBe('new');
            expect(store.appendEvent('fresh-stream', event('d', 1, bytes(1), 'fresh-partition'))).toBe('new');
            expect(list('ns', bytes())).toEqual(['01', '03']);
            throw error;
          }),
        );
        expect(thrown).toBe(error);
        expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('01');
        expect(hexOrNull(store.kvGet('ns', bytes(2)))).toBe('02');
        expect(store.kvGet('ns', bytes(3))).toBeUndefined();
        expect(list('ns', bytes())).toEqual(['01', '02']);
        expect(list('fresh-namespace', bytes())).toEqual([]);
        expect(store.appendEvent('s', event('d', 2))).toBe('new');
        expect(store.appendEvent('s', event('d', 1))).toBe('duplicate');
        expect(store.appendEvent('fresh-stream', event('d', 1, bytes(2), 'other'))).toBe('new');
        // The store keeps working after a rollback, names included.
        store.kvPut('fresh-namespace', bytes(5), bytes(5));
        expect(list('fresh-namespace', bytes())).toEqual(['05']);
        expect(store.appendEvent('fresh-stream', event('d', 9, bytes(1), 'fresh-partition'))).toBe('new');
        expect(store.appendEvent('fresh-stream', event('d', 9, bytes(1), 'fresh-partition'))).toBe('duplicate');
      });

      it('propagates exactly what was thrown, Error or not', () => {
        for (const value of [new TypeError('bad'), 'a string', 42, { code: 'x' }, null, undefined]) {
          const thrown = thrownBy(() =>
            store.atomically(() => {
              store.kvPut('ns', bytes(1), bytes(1));
              throw value;
            }),
          );
          expect(thrown).toBe(value);
          expect(store.kvGet('ns', bytes(1))).toBeUndefined();
        }
      });

      it('nests: an inner failure undoes only the inner writes', () => {
        store.atomically(() => {
          store.kvPut('ns', bytes(1), bytes(1));
          store.appendEvent('s', event('d', 1));
          const inner = new Sentinel('inner');
          expect(
            thrownBy(() =>
              store.atomically(() => {
                store.kvPut('ns', bytes(1), bytes(2));
                store.kvPut('ns', bytes(2), bytes(2));
                store.kvDelete('ns', bytes(1));
                store.appendEvent('s', event('d', 2));
                throw inner;
              }),
            ),
          ).toBe(inner);
          expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('01');
          expect(store.kvGet('ns', bytes(2))).toBeUndefined();
          store.kvPut('ns', bytes(3), bytes(3));
        });
        expect(list('ns', bytes())).toEqual(['01', '03']);
        expect(store.appendEvent('s', event('d', 1))).toBe('duplicate');
        expect(store.appendEvent('s', event('d', 2))).toBe('new');
      });

      it('nests: an outer failure undoes the inner writes that had succeeded', () => {
        store.kvPut('ns', bytes(1), bytes(0));
        const outer = new Sentinel('outer');
        expect(
          thrownBy(() =>
            store.atomically(() => {
              store.kvPut('ns', bytes(1), bytes(1));
              const value = store.atomically(() => {
                store.kvPut('ns', bytes(1), bytes(2));
                store.kvPut('ns', bytes(2), bytes(2));
                store.appendEvent('s', event('d', 1));
                return 'inner-result';
              });
              expect(value).toBe('inner-result');
              expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('02');
              throw outer;
            }),
          ),
        ).toBe(outer);
        expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('00');
        expect(store.kvGet('ns', bytes(2))).toBeUndefined();
        expect(store.appendEvent('s', event('d', 1))).toBe('new');
      });

      it('nests three levels deep, each level keeping or losing its own writes', () => {
        store.atomically(() => {
          store.kvPut('ns', bytes(1), bytes(1));
          store.atomically(() => {
            store.kvPut('ns', bytes(2), bytes(2));
            thrownBy(() =>
              store.atomically(() => {
                store.kvPut('ns', bytes(3), bytes(3));
                store.kvPut('ns', bytes(1), bytes(9));
                throw new Sentinel('deepest');
              }),
            );
            store.atomically(() => store.kvPut('ns', bytes(4), bytes(4)));
          });
          thrownBy(() =>
            store.atomically(() => {
              store.kvPut('ns', bytes(5), bytes(5));
              store.atomically(() => store.kvPut('ns', bytes(6), bytes(6)));
              throw new Sentinel('middle');
            }),
          );
        });
        expect(list('ns', bytes())).toEqual(['01', '02', '04']);
        expect(hexOrNull(store.kvGet('ns', bytes(1)))).toBe('01');
      });

      it('nests: a level that handled an inner failure still undoes all its own writes when it fails', () => {
        store.atomically(() => {
          store.kvPut('ns', bytes(0), bytes(0));
          thrownBy(() =>
            store.atomically(() => {
              store.kvPut('ns', bytes(1), bytes(1));
              store.appendEvent('s', event('d', 1));
              thrownBy(() =>
                store.atomically(() => {
                  store.kvPut('ns', bytes(2), bytes(2));
                  throw new Sentinel('innermost');
                }),
              );
              store.kvPut('ns', bytes(3), bytes(3));
              store.appendEvent('s', event('d', 3));
              throw new Sentinel('middle');
            }),
          );
          store.kvPut('ns', bytes(4), bytes(4));
        });
        expect(list('ns', bytes())).toEqual(['00', '04']);
        expect(store.appendEvent('s', event('d', 1))).toBe('new');
        expect(store.appendEvent('s', event('d', 3))).toBe('new');
      });

      it('keeps separate calls independent', () => {
        store.atomically(() => store.kvPut('ns', bytes(1), bytes(1)));
        thrownBy(() =>
          store.atomically(() => {
            store.kvPut('ns', bytes(2), bytes(2));
            throw new Sentinel('second');
          }),
        );
        store.atomically(() => store.kvPut('ns', bytes(3), bytes(3)));
        expect(list('ns', bytes())).toEqual(['01', '03']);
      });

      it('refuses a function that returns a promise, keeping none of its writes', async () => {
        const thrown = thrownBy(() =>
          store.atomically(() => {
            store.kvPut('ns', bytes(1), bytes(1));
            return Promise.resolve(1);
          }),
        );
        expect(thrown).toBeInstanceOf(TypeError);
        expect(store.kvGet('ns', bytes(1))).toBeUndefined();
      });
    });

    describe('properties against a model', () => {
      it('equals the model after random operations with nested, failing atomically calls', () => {
        fc.assert(
          fc.property(fc.array(opArbitrary(3), { maxLength: 30 }), (ops) => {
            const subject = open();
            try {
              const model = new ModelStore();
              const fromStore: unknown[] = [];
              const fromModel: unknown[] = [];
              for (const op of ops) {
                apply(subject.store, op, fromStore);
                apply(model, op, fromModel);
              }
              expect(fromStore).toEqual(fromModel);
              expectSameState(subject.store, model, ops);
            } finally {
              subject.close();
            }
          }),
          { numRuns: 150 },
        );
      });

      it('pages through any set of keys and prefix exactly once, in byte order', () => {
        const key = fc.uint8Array({ minLength: 1, maxLength: 4, min: 0, max: 255 }).map((k) => k.map((b) => INTERESTING_BYTES[b % INTERESTING_BYTES.length]!));
        fc.assert(
          fc.property(
            fc.uniqueArray(key, { maxLength: 40, selector: hex }),
            fc.array(fc.constantFrom(...INTERESTING_BYTES), { maxLength: 2 }),
            fc.integer({ min: 1, max: 6 }),
            (keys, prefixBytes, limit) => {
              const subject = open();
              try {
                for (const k of keys) subject.store.kvPut('ns', k, bytes());
                const prefix = bytes(...prefixBytes);
                const expected = keys.map(hex).filter((k) => k.startsWith(hex(prefix))).sort();
                const seen: string[] = [];
                let after: Uint8Array | undefined;
                for (let guard = 0; guard <= keys.length + 1; guard++) {
                  const page = subject.store.kvList('ns', prefix, after, limit);
                  expect(page.length).toBeLessThanOrEqual(limit);
                  if (page.length === 0) break;
                  seen.push(...page.map(hex));
                  after = page[page.length - 1];
                }
                expect(seen).toEqual(expected);
              } finally {
                subject.close();
              }
            },
          ),
          { numRuns: 100 },
        );
      });
    });
  });
}

// --- the model -------------------------------------------------------------------------------------------

interface ModelEvent {
  partition: string;
  payload: string;
}

/** The simplest store that could work: hex strings in maps, and `atomically` by snapshot and restore. */
class ModelStore implements GuestStore {
  private kv = new Map<string, Map<string, string>>();
  private events = new Map<string, Map<string, ModelEvent>>();

  atomically<T>(fn: () => T): T {
    const kv = new Map([...this.kv].map(([ns, m]) => [ns, new Map(m)]));
    const events = new Map([...this.events].map(([s, m]) => [s, new Map(m)]));
    try {
      return fn();
    } catch (error) {
      this.kv = kv;
      this.events = events;
      throw error;
    }
  }

  kvGet(namespace: string, key: Uint8Array): Uint8Array | undefined {
    const value = this.kv.get(namespace)?.get(hex(key));
    return value === undefined ? undefined : fromHex(value);
  }

  kvPut(namespace: string, key: Uint8Array, value: Uint8Array): void {
    if (!this.kv.has(namespace)) this.kv.set(namespace, new Map());
    this.kv.get(namespace)!.set(hex(key), hex(value));
  }

  kvDelete(namespace: string, key: Uint8Array): boolean {
    return this.kv.get(namespace)?.delete(hex(key)) ?? false;
  }

  kvList(namespace: string, prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Uint8Array[] {
    // Hex strings of bytes compare like the bytes themselves.
    return [...(this.kv.get(namespace)?.keys() ?? [])]
      .filter((k) => k.startsWith(hex(prefix)) && (after === undefined || k > hex(after)))
      .sort()
      .slice(0, Math.max(0, limit))
      .map(fromHex);
  }

  appendEvent(stream: string, e: StoredEvent): AppendOutcome {
    if (!this.events.has(stream)) this.events.set(stream, new Map());
    const log = this.events.get(stream)!;
    const id = JSON.stringify([e.source, e.timeMs]);
    const stored = log.get(id);
    if (stored === undefined) {
      log.set(id, { partition: e.partition, payload: hex(e.payload) });
      return 'new';
    }
    return stored.partition === e.partition && stored.payload === hex(e.payload) ? 'duplicate' : 'conflict';
  }

  eventsOf(stream: string): Map<string, ModelEvent> {
    return this.events.get(stream) ?? new Map();
  }
}

type Op =
  | { kind: 'put'; ns: string; key: number[]; value: number[] }
  | { kind: 'get'; ns: string; key: number[] }
  | { kind: 'delete'; ns: string; key: number[] }
  | { kind: 'list'; ns: string; prefix: number[]; after: number[] | null; limit: number }
  | { kind: 'append'; stream: string; partition: string; source: string; timeMs: number; payload: number[] }
  | { kind: 'atomically'; ops: Op[]; throwAfter: number | null };

const INTERESTING_BYTES = [0x00, 0x01, 0x61, 0x7f, 0x80, 0xc3, 0xfe, 0xff];
const NAMESPACES = ['a', 'b', 'a@1'];
const STREAMS = ['s', 't'];
const SOURCES = ['d1', 'd2', 'dé'];
const TIMES = [0, 1, 1_700_000_000_000, Number.MAX_SAFE_INTEGER];

function opArbitrary(depth: number): fc.Arbitrary<Op> {
  const keyBytes = fc.array(fc.constantFrom(...INTERESTING_BYTES), { minLength: 1, maxLength: 3 });
  const ns = fc.constantFrom(...NAMESPACES);
  const leaves: fc.Arbitrary<Op>[] = [
    fc.record({
      kind: fc.constant('put' as const),
      ns,
      key: keyBytes,
      value: fc.array(fc.constantFrom(0, 1, 0xff), { maxLength: 3 }),
    }),
    fc.record({ kind: fc.constant('get' as const), ns, key: keyBytes }),
    fc.record({ kind: fc.constant('delete' as const), ns, key: keyBytes }),
    fc.record({
      kind: fc.constant('list' as const),
      ns,
      prefix: fc.array(fc.constantFrom(...INTERESTING_BYTES), { maxLength: 2 }),
      after: fc.option(keyBytes, { nil: null }),
      limit: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({
      kind: fc.constant('append' as const),
      stream: fc.constantFrom(...STREAMS),
      partition: fc.constantFrom('p', 'q'),
      source: fc.constantFrom(...SOURCES),
      timeMs: fc.constantFrom(...TIMES),
      payload: fc.array(fc.constantFrom(0, 0xff), { maxLength: 1 }),
    }),
  ];
  if (depth === 0) return fc.oneof(...leaves);
  const nested: fc.Arbitrary<Op> = fc.record({
    kind: fc.constant('atomically' as const),
    ops: fc.array(opArbitrary(depth - 1), { maxLength: 6 }),
    throwAfter: fc.option(fc.nat({ max: 6 }), { nil: null }),
  });
  // Nested calls as often as all the other operations together, so deep mixes of commits and throws occur.
  return fc.oneof(...leaves.map((arbitrary) => ({ arbitrary, weight: 1 })), { arbitrary: nested, weight: leaves.length });
}

/** Applies `op` to `store`, pushing every observable result to `out`. */
function apply(store: GuestStore, op: Op, out: unknown[]): void {
  switch (op.kind) {
    case 'put':
      store.kvPut(op.ns, bytes(...op.key), bytes(...op.value));
      return;
    case 'get':
      out.push(hexOrNull(store.kvGet(op.ns, bytes(...op.key))));
      return;
    case 'delete':
      out.push(store.kvDelete(op.ns, bytes(...op.key)));
      return;
    case 'list':
      out.push(store.kvList(op.ns, bytes(...op.prefix), op.after === null ? undefined : bytes(...op.after), op.limit).map(hex));
      return;
    case 'append':
      out.push(store.appendEvent(op.stream, { partition: op.partition, source: op.source, timeMs: op.timeMs, payload: bytes(...op.payload) }));
      return;
    case 'atomically': {
      const error = new Sentinel('rolled back');
      try {
        const result = store.atomically(() => {
          op.ops.forEach((inner, i) => {
            if (i === op.throwAfter) throw error;
            apply(store, inner, out);
          });
          if (op.throwAfter !== null && op.throwAfter >= op.ops.length) throw error;
          return 'committed';
        });
        out.push(result);
      } catch (thrown) {
        out.push(thrown === error ? 'rolled back' : thrown);
      }
      return;
    }
  }
}

/** Compares the whole state: every key and value, and every event (probed inside a rolled-back call). */
function expectSameState(store: GuestStore, model: ModelStore, ops: Op[]): void {
  for (const ns of NAMESPACES) {
    const keys = store.kvList(ns, bytes(), undefined, 10_000);
    expect(keys.map(hex)).toEqual(model.kvList(ns, bytes(), undefined, 10_000).map(hex));
    for (const key of keys) expect(hexOrNull(store.kvGet(ns, key))).toBe(hexOrNull(model.kvGet(ns, key)));
  }
  const identities = new Set<string>();
  const collect = (list: Op[]): void => {
    for (const op of list) {
      if (op.kind === 'append') identities.add(JSON.stringify([op.stream, op.source, op.timeMs]));
      if (op.kind === 'atomically') collect(op.ops);
    }
  };
  collect(ops);
  const probe = new Sentinel('probe');
  const thrown = thrownBy(() =>
    store.atomically(() => {
      for (const id of identities) {
        const [stream, source, timeMs] = JSON.parse(id) as [string, string, number];
        const stored = model.eventsOf(stream).get(JSON.stringify([source, timeMs]));
        if (stored === undefined) {
          expect(store.appendEvent(stream, { partition: 'probe', source, timeMs, payload: bytes() })).toBe('new');
        } else {
          expect(store.appendEvent(stream, { partition: stored.partition, source, timeMs, payload: fromHex(stored.payload) })).toBe('duplicate');
        }
      }
      throw probe;
    }),
  );
  expect(thrown).toBe(probe);
}
