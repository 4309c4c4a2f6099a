/**
 * The Worker's settings, from its environment variables (`[vars]` in wrangler.toml), with the node's
 * defaults (src/node/settings.ts). The guest gets the same config the node passes it.
 */

const DEFAULTS = {
  /** How late a reading may arrive and still be counted, in ms (`grace-period-ms`). */
  GRACE_PERIOD_MS: 7 * 24 * 3600 * 1000,
  /** How far ahead of the clock a reading timestamp may be, in ms (`max-future-ms`). */
  MAX_FUTURE_MS: 5 * 60 * 1000,
  /** Regions the API may create (`max-regions`). */
  MAX_REGIONS: 10_000,
  /** Largest request body in bytes (`body-limit`). */
  BODY_LIMIT: 1024 * 1024,
};

/** A non-negative integer setting; a malformed one stops the Worker rather than running with a guess. */
export function setting(env, name) {
  const raw = env?.[name];
  if (raw === undefined || raw === '') return DEFAULTS[name];
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The module's config, as the node's composition root passes it (src/node/edge-node.ts). */
export function moduleConfig(env) {
  return new Map([
    ['grace_period_ms', String(setting(env, 'GRACE_PERIOD_MS'))],
    ['max_future_ms', String(setting(env, 'MAX_FUTURE_MS'))],
    ['max_regions', String(setting(env, 'MAX_REGIONS'))],
  ]);
}
