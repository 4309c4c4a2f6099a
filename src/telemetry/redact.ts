/**
 * Secrets never reach a log line. Two nets, because neither alone is enough: fields whose *name*
 * says secret (authorization, token, password, ...) lose their value whatever it is, and every string
 * that *looks* like a credential (a JWT, a bearer header, an `access_token=` parameter, a PEM private
 * key) is masked wherever it appears: in a message, an error, a guest's log line.
 */

export const REDACTED = '[REDACTED]';

/** Field names whose values are secrets whatever they hold. */
const SECRET_KEY = /authorization|cookie|passw(?:or)?d|secret|token|api[-_]?key|private[-_]?key|credential|signature/i;

const SECRET_TEXT = new RegExp(
  [
    // A JWT (or any JWS/JWE compact form): base64url JSON header starting `{"` = `eyJ`.
    String.raw`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}`,
    // HTTP credentials in headers or messages.
    String.raw`\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+`,
    // Query or form parameters that carry credentials.
    String.raw`\b(?:access_token|refresh_token|id_token|token|api_key|apikey|password|secret)=[^&\s"']+`,
    // PEM private keys.
    String.raw`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)`,
  ].join('|'),
  'gi',
);

/** Masks credential-looking substrings; returns the same string when there is none. */
export function redactText(text: string): string {
  // A cheap pre-check keeps the common case (no secret) free of allocations.
  if (!/eyJ|Bearer|Basic|token=|key=|password=|secret=|PRIVATE KEY/i.test(text)) return text;
  return text.replace(SECRET_TEXT, (m) => {
    const eq = m.indexOf('=');
    if (eq > 0 && !m.startsWith('eyJ') && !m.startsWith('-----')) return `${m.slice(0, eq + 1)}${REDACTED}`;
    const space = m.search(/\s/);
    if (space > 0 && /^(?:Bearer|Basic)\s/i.test(m)) return `${m.slice(0, space + 1)}${REDACTED}`;
    return REDACTED;
  });
}

const MAX_DEPTH = 6;

/**
 * A copy of `value` safe to log: secret-named fields masked, credential-looking strings masked, errors
 * turned into plain objects (name, message, code, stack, cause), cycles and depth bounded.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Object]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: redactText(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = redact(code, depth + 1, seen);
    if (value.stack) out.stack = redactText(value.stack);
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}
