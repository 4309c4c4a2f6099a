/** Issue 16.4 (no per-client limits): which bucket a principal draws on, and how readings are counted. */
import { describe, expect, it } from 'vitest';
import { ClientRateLimits, countObjects } from '../../src/http/index.js';

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('ClientRateLimits', () => {
  it('limits each token by scope and subject, and each device across its tokens', () => {
    const clock = manualClock();
    const limits = new ClientRateLimits({ perToken: { ratePerSecond: 100, burst: 100 }, perDevice: { ratePerSecond: 10, burst: 10 }, now: clock.now });
    expect(limits.take({ kind: 'gateway', subject: 'gw-1' }, 100)).toBe(0);
    expect(limits.take({ kind: 'gateway', subject: 'gw-1' }, 1)).toBe(10);
    expect(limits.take({ kind: 'gateway', subject: 'gw-2' }, 100)).toBe(0);
    expect(limits.take({ kind: 'device', subject: 'd-1' }, 10)).toBe(0);
    // The device's bucket is empty; a refused take spends nothing from the token's.
    expect(limits.take({ kind: 'device', subject: 'd-1' }, 1)).toBe(100);
    expect(limits.waitFor({ kind: 'device', subject: 'd-2' }, 10)).toBe(0);
    clock.advance(1_000);
    expect(limits.take({ kind: 'device', subject: 'd-1' }, 10)).toBe(0);
  });

  it('gives every token its own bucket, even tokens of the same subject (every `token create --gateway` is "gateway")', () => {
    const limits = new ClientRateLimits({ perToken: { ratePerSecond: 100, burst: 100 }, now: manualClock().now });
    expect(limits.take({ kind: 'gateway', subject: 'gateway', tokenId: 'jti-a' }, 100)).toBe(0);
    expect(limits.take({ kind: 'gateway', subject: 'gateway', tokenId: 'jti-a' }, 1)).toBe(10);
    expect(limits.take({ kind: 'gateway', subject: 'gateway', tokenId: 'jti-b' }, 100)).toBe(0);
  });

  it('limits nothing without a client to tell apart (authentication off, anonymous routes), or when off', () => {
    const limits = new ClientRateLimits({ perToken: { ratePerSecond: 1, burst: 1 }, perDevice: { ratePerSecond: 1, burst: 1 } });
    for (let i = 0; i < 10; i++) {
      expect(limits.take({ kind: 'gateway', subject: '' }, 5)).toBe(0);
      expect(limits.take({ kind: 'anonymous', subject: 'x' }, 5)).toBe(0);
    }
    const off = new ClientRateLimits({ perToken: { ratePerSecond: 0 }, perDevice: { ratePerSecond: 0 } });
    for (let i = 0; i < 10; i++) expect(off.take({ kind: 'device', subject: 'd' }, 1_000_000)).toBe(0);
  });
});

describe('countObjects', () => {
  it('counts the readings of JSON and NDJSON batches, at least one', () => {
    const r = '{"device_id":"a","region":"r","temperature_c":1,"timestamp":1}';
    expect(countObjects(Buffer.from(`[${r},${r},${r}]`))).toBe(3);
    expect(countObjects(Buffer.from(`${r}\n${r}\n`))).toBe(2);
    expect(countObjects(Buffer.from('[]'))).toBe(1);
  });
});
