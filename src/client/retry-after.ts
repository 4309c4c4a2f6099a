/**
 * `Retry-After` (RFC 9110 §10.2.3) is either delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). Returns the wait it asks for in milliseconds, 0 for a date
 * already past, and undefined when the header is absent or is neither form.
 * @param now the time a date is measured from, in ms since the epoch
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse takes bare numbers ("-1", "1.5") as years; a date has a month name, so require letters.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
