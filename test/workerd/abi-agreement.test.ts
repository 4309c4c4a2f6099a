/**
 * The Worker's copy of the ABI (adapters/workerd/src/abi.js, plain JavaScript for workerd) agrees with the
 * host's declaration (src/runtime/abi.ts), constant by constant.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as host from '../../src/runtime/abi.js';
import { ROOT } from '../helpers/guests.js';

// A computed specifier: the module is plain JavaScript with no declarations to type-check against.
const worker = (await import(pathToFileURL(join(ROOT, 'adapters', 'workerd', 'src', 'abi.js')).href)) as Record<string, unknown>;

describe("the Worker's ABI constants are the host's", () => {
  it('the same imports, each with its capability', () => {
    const capabilities = Object.fromEntries(Object.entries(host.IMPORTS).map(([name, sig]) => [name, sig.capability]));
    expect(worker.IMPORT_CAPABILITY).toEqual(capabilities);
  });

  it.each(['ABI_VERSION', 'ABI_ERROR', 'PRINCIPAL_KIND', 'HTTP_METHOD', 'APPEND_RESULT', 'LOG_LEVEL'] as const)('%s', (name) => {
    expect(worker[name]).toEqual(host[name]);
  });

  it('LIMITS, but for the loader-only table limit (the Worker loads no module: workerd does)', () => {
    const { tableEntries: _loaderOnly, ...perCall } = host.LIMITS;
    expect(worker.LIMITS).toEqual(perCall);
  });
});
