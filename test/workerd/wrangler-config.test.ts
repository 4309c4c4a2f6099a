/**
 * The Worker's settings mean what the node's settings of the same names mean: wrangler.toml's `[vars]` and
 * the Worker's own defaults (adapters/workerd/src/settings.js) are the node's defaults.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/node/settings.js';
import { ROOT } from '../helpers/guests.js';

/** Worker variable to the node setting it stands for. */
const SAME_AS = { GRACE_PERIOD_MS: 'grace-period-ms', MAX_FUTURE_MS: 'max-future-ms', MAX_REGIONS: 'max-regions', BODY_LIMIT: 'body-limit' } as const;

const toml = readFileSync(join(ROOT, 'adapters', 'workerd', 'wrangler.toml'), 'utf8');
const vars = Object.fromEntries([...toml.slice(toml.indexOf('[vars]')).matchAll(/^(\w+)\s*=\s*"([^"]*)"$/gm)].map((m) => [m[1]!, m[2]!]));
const settings = (await import(pathToFileURL(join(ROOT, 'adapters', 'workerd', 'src', 'settings.js')).href)) as {
  setting: (env: Record<string, unknown>, name: string) => number;
};

describe("the Worker's settings", () => {
  it('wrangler.toml sets exactly these variables', () => {
    expect(Object.keys(vars).sort()).toEqual(Object.keys(SAME_AS).sort());
  });

  it.each(Object.entries(SAME_AS))('%s defaults to the node default of %s, in wrangler.toml and in the Worker', (name, nodeName) => {
    const nodeDefault = SETTINGS[nodeName].default;
    expect(Number(vars[name])).toBe(nodeDefault);
    expect(settings.setting({}, name)).toBe(nodeDefault);
  });

  it('takes a variable as set, and refuses one that is not a non-negative integer', () => {
    expect(settings.setting({ MAX_REGIONS: '12' }, 'MAX_REGIONS')).toBe(12);
    expect(() => settings.setting({ MAX_REGIONS: '-1' }, 'MAX_REGIONS')).toThrow(/MAX_REGIONS must be a non-negative integer/);
    expect(() => settings.setting({ BODY_LIMIT: '1.5' }, 'BODY_LIMIT')).toThrow(/BODY_LIMIT/);
  });
});
