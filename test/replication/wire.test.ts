/** Names on NATS and events on the wire: exact round trips, and nothing that could escape a subject level. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, eventSubject, messageId, consumerName, token, untoken, RECONNECT_BACKOFF } from '../../src/replication/index.js';
import { backoffDelay } from '../../src/resilience/index.js';
import { decodeApply, decodeEventPage, encodeApply, encodeEventPage } from '../../src/replication/codec.js';
import { parseEventSubject } from '../../src/replication/subjects.js';
import type { StoredEvent } from '../../src/runtime/index.js';

const eventArb: fc.Arbitrary<StoredEvent> = fc.record({
  partition: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
  source: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  timeMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  payload: fc.uint8Array({ maxLength: 64 }),
});

describe('subject tokens', () => {
  it('round-trip any name and never contain a separator, a wildcard or whitespace', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        const t = token(name);
        expect(untoken(t)).toBe(name);
        expect(t).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(t).not.toContain('__');
      }),
    );
  });

  it('lay events out per region, so a node can follow one region', () => {
    expect(eventSubject('aggregator', 'eu-west')).toBe('edgeagg.events.aggregator.eu-west');
    expect(eventSubject('aggregator', 'eu-west.lab')).toBe('edgeagg.events.aggregator.eu-west_2Elab');
    expect(eventSubject('aggregator', 'a.>')).toBe('edgeagg.events.aggregator.a_2E_3E');
    expect(parseEventSubject('prefix.from.a.leaf.edgeagg.events.aggregator.eu-west_2Elab')).toEqual({ stream: 'aggregator', partition: 'eu-west.lab' });
    expect(consumerName('node-1')).toBe('edgeagg_node-1');
    expect(consumerName('node_1', 'eu.west')).toBe('edgeagg_node_5F1__eu_2Ewest');
  });

  it('derive the message id from the identity only: a resend, from any node, has the same id', () => {
    const a = { partition: 'eu-west', source: 'sensor-17', timeMs: 1736944199000, payload: new Uint8Array([1]) };
    expect(messageId('aggregator', a)).toBe('aggregator.sensor-17.1736944199000');
    const resent: StoredEvent = { ...a, payload: new Uint8Array([2]) };
    expect(messageId('aggregator', resent)).toBe(messageId('aggregator', a));
    expect(messageId('aggregator', { ...a, source: 'sensor.17' })).not.toBe(messageId('aggregator', { ...a, source: 'sensor_17' }));
  });
});

describe('the event encodings', () => {
  it('round-trip one event, a page and an apply request', () => {
    fc.assert(
      fc.property(eventArb, fc.array(eventArb, { maxLength: 5 }), fc.option(fc.record({ timeMs: fc.nat(), source: fc.string({ minLength: 1 }) }), { nil: undefined }), (e, list, next) => {
        expect(decodeEvent(encodeEvent(e))).toEqual(e);
        expect(decodeEventPage(encodeEventPage({ events: list, next }))).toEqual({ events: list, next });
        expect(decodeApply(encodeApply('aggregator', list))).toEqual({ stream: 'aggregator', events: list });
      }),
    );
  });

  it('refuses truncated or malformed bodies with a CodecError', () => {
    const bytes = encodeEvent({ partition: 'p', source: 's', timeMs: 5, payload: new Uint8Array(8) });
    expect(() => decodeEvent(bytes.subarray(0, 6))).toThrow(/truncated/);
    expect(() => decodeEvent(new Uint8Array([9]))).toThrow(/version/);
    const bad = Buffer.from(encodeEvent({ partition: 'p', source: 's', timeMs: 5, payload: new Uint8Array(0) }));
    bad.writeDoubleLE(1.5, 7);
    expect(() => decodeEvent(bad)).toThrow(/integer/);
  });

  it('a reading costs about 40 bytes of body', () => {
    const body = encodeEvent({ partition: 'eu-west', source: 'sensor-0017', timeMs: 1736944199000, payload: new Uint8Array(8) });
    expect(body.length).toBe(1 + 2 + 7 + 2 + 11 + 8 + 8);
  });
});

describe('backoff', () => {
  it('grows, is capped, and is jittered within [50%, 100%] of the exponential delay', () => {
    expect(backoffDelay(RECONNECT_BACKOFF, 0, () => 0)).toBe(250);
    expect(backoffDelay(RECONNECT_BACKOFF, 0, () => 1)).toBe(125);
    expect(backoffDelay(RECONNECT_BACKOFF, 3, () => 0)).toBe(2000);
    expect(backoffDelay(RECONNECT_BACKOFF, 30, () => 0)).toBe(5000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(RECONNECT_BACKOFF, 2);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});
