import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/runtime/store.js';
import { SqliteStore } from '../../src/store/index.js';
import { bytes, hex, utf8 } from '../helpers/bytes.js';
import { thrownBy } from '../helpers/errors.js';
import { defer, tempDir } from '../helpers/temp-dirs.js';

function open(path = join(tempDir('store'), 'store.db')): SqliteStore {
  const store = SqliteStore.open({ path });
  defer(() => store.close());
  return store;
}

const reading = (source: string, timeMs: number, partition = 'eu', payload: Uint8Array = bytes(timeMs & 0xff)): StoredEvent => ({
  partition,
  source,
  timeMs,
  payload,
});

const identity = (e: StoredEvent): string => `${e.timeMs}/${e.source}/${e.partition}/${hex(e.payload)}`;

describe('SqliteStore durability', () => {
  it('keeps committed writes across close and reopen, and none of a rolled-back call', () => {
    const path = join(tempDir('store'), 'store.db');
    const first = SqliteStore.open({ path });
    first.atomically(() => {
      for (let i = 0; i < 100; i++) first.kvPut('app@1', utf8(`k${i}`), utf8(`v${i}`));
      first.appendEvent('app', reading('d', 1));
    });
    thrownBy(() =>
      first.atomically(() => {
        first.kvPut('app@1', utf8('k0'), utf8('lost'));
        first.appendEvent('app', reading('d', 2));
        throw new Error('guest trapped');
      }),
    );
    first.close();

    const second = open(path);
    expect(second.kvList('app@1', bytes(), undefined, 1000)).toHaveLength(100);
    expect(hex(second.kvGet('app@1', utf8('k0')))).toBe(hex(utf8('v0')));
    expect(hex(second.kvGet('app@1', utf8('k99')))).toBe(hex(utf8('v99')));
    expect(second.countEvents('app')).toBe(1);
    expect(second.appendEvent('app', reading('d', 1))).toBe('duplicate');
  });

  it('has every commit in its files before close: a copy taken at that instant (as after kill -9) holds it', () => {
    const dir = tempDir('store');
    const path = join(dir, 'store.db');
    const store = open(path);
    store.atomically(() => {
      store.kvPut('ns', utf8('acknowledged'), utf8('yes'));
      store.appendEvent('s', reading('d', 7));
    });
    // Copy the database and its WAL while the store is still open, as a crash would leave them.
    const crashed = join(dir, 'crashed.db');
    copyFileSync(path, crashed);
    expect(existsSync(`${path}-wal`)).toBe(true);
    copyFileSync(`${path}-wal`, `${crashed}-wal`);

    const recovered = open(crashed);
    expect(hex(recovered.kvGet('ns', utf8('acknowledged')))).toBe(hex(utf8('yes')));
    expect(recovered.appendEvent('s', reading('d', 7))).toBe('duplicate');
    expect(recovered.integrityCheck()).toBe('ok');
  });
});

describe('SqliteStore group transactions', () => {
  it('commits many atomically calls at once; a failed one loses only its own writes', () => {
    const store = open();
    const results = store.transaction(() =>
      ['a', 'b', 'c'].map((name) => {
        try {
          return store.atomically(() => {
            store.kvPut('ns', utf8(name), utf8(name));
            store.appendEvent('s', reading(name, 1));
            if (name === 'b') throw new Error('request b refused');
            return `${name} ok`;
          });
        } catch (error) {
          return (error as Error).message;
        }
      }),
    );
    expect(results).toEqual(['a ok', 'request b refused', 'c ok']);
    expect(store.kvList('ns', bytes(), undefined, 10).map((k) => Buffer.from(k).toString())).toEqual(['a', 'c']);
    expect(store.countEvents('s')).toBe(2);
  });

  it('keeps nothing of the group when the group itself throws', () => {
    const store = open();
    const error = new Error('group failed');
    expect(
      thrownBy(() =>
        store.transaction(() => {
          store.atomically(() => store.kvPut('ns', utf8('a'), utf8('a')));
          throw error;
        }),
      ),
    ).toBe(error);
    expect(store.kvGet('ns', utf8('a'))).toBeUndefined();
  });

  it('refuses to open a group inside a transaction', () => {
    const store = open();
    expect(() => store.atomically(() => store.transaction(() => 1))).toThrow(/outermost/);
    expect(() => store.transaction(() => store.transaction(() => 1))).toThrow(/outermost/);
    // The store is not left inside a transaction.
    store.kvPut('ns', utf8('k'), bytes(1));
    expect(store.transaction(() => 'fine')).toBe('fine');
  });

  it('sees the uncommitted writes of the group from inside it, and not from another connection', () => {
    const path = join(tempDir('store'), 'store.db');
    const store = open(path);
    const reader = open(path);
    store.transaction(() => {
      store.atomically(() => store.kvPut('ns', utf8('k'), bytes(1)));
      expect(hex(store.kvGet('ns', utf8('k')))).toBe('01');
      expect(reader.kvGet('ns', utf8('k'))).toBeUndefined();
    });
    expect(hex(reader.kvGet('ns', utf8('k')))).toBe('01');
  });
});

describe('SqliteStore event log reads (replay)', () => {
  it('reads a stream in (time, source bytes) order, in pages', () => {
    const store = open();
    const events = [
      reading('b', 2),
      reading('a', 2, 'us'),
      reading('é', 2),
      reading('Z', 2),
      reading('！', 2),
      reading('😀', 2),
      reading('z', 1, 'ap', bytes()),
      reading('a', 3, 'eu', new Uint8Array(4096).fill(7)),
      reading('a', Number.MAX_SAFE_INTEGER),
      reading('a', 0),
    ];
    for (const e of events) expect(store.appendEvent('app', e)).toBe('new');
    store.appendEvent('other', reading('a', 1));
    const expected = [
      reading('a', 0),
      reading('z', 1, 'ap', bytes()),
      reading('Z', 2),
      reading('a', 2, 'us'),
      reading('b', 2),
      reading('é', 2),
      reading('！', 2),
      reading('😀', 2),
      reading('a', 3, 'eu', new Uint8Array(4096).fill(7)),
      reading('a', Number.MAX_SAFE_INTEGER),
    ].map(identity);

    const all = store.readEvents('app', { limit: 100 });
    expect(all.events.map(identity)).toEqual(expected);
    expect(all.next).toBeUndefined();

    const paged: string[] = [];
    let after = undefined as ReturnType<SqliteStore['readEvents']>['next'];
    let pages = 0;
    do {
      const page = store.readEvents('app', { after, limit: 3 });
      paged.push(...page.events.map(identity));
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(paged).toEqual(expected);
    expect(pages).toBe(4);
  });

  it('starts after a cursor that is not itself an event', () => {
    const store = open();
    for (const e of [reading('a', 1), reading('c', 1), reading('a', 2)]) store.appendEvent('s', e);
    const page = store.readEvents('s', { after: { timeMs: 1, source: 'b' } });
    expect(page.events.map((e) => `${e.timeMs}/${e.source}`)).toEqual(['1/c', '2/a']);
    expect(store.readEvents('s', { after: { timeMs: 2, source: 'a' } }).events).toEqual([]);
  });

  it('returns nothing for an unknown stream', () => {
    const store = open();
    expect(store.readEvents('nothing')).toEqual({ events: [], next: undefined });
    expect([...store.iterateEvents('nothing')]).toEqual([]);
    expect(store.countEvents('nothing')).toBe(0);
  });

  it('iterates a whole stream while the caller writes between events', () => {
    const store = open();
    store.atomically(() => {
      for (let i = 0; i < 2500; i++) store.appendEvent('app', reading(`dev-${i % 7}`, 1_700_000_000_000 + i));
    });
    let n = 0;
    let previous = -1;
    for (const e of store.iterateEvents('app', 1000)) {
      expect(e.timeMs).toBeGreaterThan(previous);
      previous = e.timeMs;
      // A rebuild folds each event into the new version's namespace as it goes.
      store.kvPut('app@2', utf8('count'), utf8(String(++n)));
    }
    expect(n).toBe(2500);
    expect(Buffer.from(store.kvGet('app@2', utf8('count'))!).toString()).toBe('2500');
  });

  it('counts events per stream, rolled-back appends excluded', () => {
    const store = open();
    for (let i = 0; i < 5; i++) store.appendEvent('a', reading('d', i));
    store.appendEvent('a', reading('d', 0));
    store.appendEvent('b', reading('d', 0));
    thrownBy(() =>
      store.atomically(() => {
        store.appendEvent('c', reading('d', 0));
        throw new Error('rolled back');
      }),
    );
    expect(store.countEvents('a')).toBe(5);
    expect(store.countEvents('b')).toBe(1);
    expect(store.countEvents('c')).toBe(0);
    expect(store.eventCounts()).toEqual(new Map([['a', 5], ['b', 1]]));
  });

  it('passes its integrity check', () => {
    const store = open();
    store.kvPut('ns', utf8('k'), bytes(1));
    store.appendEvent('s', reading('d', 1));
    expect(store.integrityCheck()).toBe('ok');
  });
});

describe('SqliteStore fold journal', () => {
  it('is a FoldJournal per stream: kept with its transaction, read back from the log after a reopen', () => {
    const path = join(tempDir('store'), 'store.db');
    const store = SqliteStore.open({ path });
    const a = [reading('d-1', 10), reading('d-2', 11, 'us')];
    store.atomically(() => {
      for (const e of [...a, reading('d-3', 12)]) store.appendEvent('app', e);
      store.foldJournal('app').append(a);
    });
    expect(() =>
      store.atomically(() => {
        store.foldJournal('app').append([reading('d-3', 12)]);
        throw new Error('the fold failed');
      }),
    ).toThrow('fold failed');
    store.foldJournal('app').append([]);
    store.close();

    const again = open(path);
    expect(again.foldJournal('app').load().map(identity)).toEqual(a.map(identity));
    expect(again.foldJournal('app').load().map(identity)).toEqual(a.map(identity));
    expect(again.foldJournal('other').load()).toEqual([]);
    again.foldJournal('other').clear();
    expect(again.foldJournal('app').load()).toHaveLength(2);
    again.foldJournal('app').clear();
    expect(again.foldJournal('app').load()).toEqual([]);
    again.close();
    expect(thrownBy(() => again.foldJournal('app').load())).toMatchObject({ name: 'StoreUnavailableError', code: 'store_closed' });
  });
});

describe('SqliteStore atomically edge cases', () => {
  it('keeps working after an error in a nested level that the caller handled', () => {
    const store = open();
    store.atomically(() => {
      store.kvPut('ns', utf8('outer'), bytes(1));
      for (let i = 0; i < 50; i++) {
        thrownBy(() =>
          store.atomically(() => {
            store.kvPut('ns', utf8(`inner-${i}`), bytes(1));
            store.appendEvent(`stream-${i}`, reading('d', i, `partition-${i}`));
            throw new Error('inner');
          }),
        );
      }
      // Names interned by the rolled-back levels are gone; new writes intern them again.
      store.appendEvent('stream-3', reading('d', 3, 'partition-3'));
    });
    expect(store.kvList('ns', bytes(), undefined, 100).map((k) => Buffer.from(k).toString())).toEqual(['outer']);
    expect(store.eventCounts()).toEqual(new Map([['stream-3', 1]]));
    expect(store.readEvents('stream-3').events[0]?.partition).toBe('partition-3');
  });

  it('rejects a fractional time instead of storing a rounded one', () => {
    const store = open();
    expect(() => store.appendEvent('s', reading('d', 1.5))).toThrow();
    expect(store.countEvents('s')).toBe(0);
  });
});
