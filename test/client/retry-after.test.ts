import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/client/index.js';

const NOW = Date.parse('2015-10-21T07:28:00Z');

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('1', NOW)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', NOW)).toBe(30_000);
    // The obsolete RFC 850 form, which recipients must still accept.
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:29:00 GMT', NOW)).toBe(60_000);
  });

  it('reads a date already past as no wait', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', NOW)).toBe(0);
  });

  it('is undefined for an absent header and for garbage', () => {
    for (const value of [null, undefined, '', '   ', 'soon', '-5', '1.5', '12abc', 'Wed, 99 Foo 2015 GMT']) {
      expect(parseRetryAfter(value, NOW), String(value)).toBeUndefined();
    }
  });
});
