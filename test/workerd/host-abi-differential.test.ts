/**
 * The host ABI on workerd against the node's, through a guest that probes it (guests/abi-probe.wat): the
 * results of host calls (new, duplicate, conflict; error codes for bad arguments), a trap and a bad response
 * frame that roll back every write of their call, and the fold of new events, must all come out alike on a
 * node and on the Worker, both running the same signed probe.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signModule, type Capability } from '../../src/runtime/index.js';
import { testKey, wat } from '../helpers/guests.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { useNodeAndWorker, type Answer, type Exchange } from './node-and-worker.js';

const dir = tempDir('workerd-probe');
const modulePath = join(dir, 'abi-probe.wasm');
const keyFile = join(dir, 'test-key.pub.pem');
const wasm = wat(readFileSync(fileURLToPath(new URL('guests/abi-probe.wat', import.meta.url)), 'utf8'));
writeFileSync(modulePath, wasm);
const manifest = { name: 'abi-probe', version: '1.0.0', limits: {}, capabilities: ['log', 'config', 'kv', 'events'] as Capability[] };
writeFileSync(`${modulePath}.sig.json`, JSON.stringify(signModule(wasm, manifest, testKey.privateKeyPem)));
writeFileSync(keyFile, testKey.publicKeyPem);

const { same } = useNodeAndWorker({
  nodeFlags: { module: modulePath, 'trusted-keys': keyFile },
  bundleArgs: ['--module', modulePath, '--trusted-key', keyFile],
});

const post = (op: string): Exchange => ({ method: 'POST', path: `/v1/readings?${op}`, headers: { 'content-type': 'application/json' }, body: '[]' });
const get = (op: string): Exchange => ({ method: 'GET', path: `/v1/regions?${op}` });
const codes = (a: Answer): number[] => Array.from(new Int32Array(a.bytes.buffer.slice(a.bytes.byteOffset, a.bytes.byteOffset + a.bytes.length)));
const errorCode = (a: Answer): string => (JSON.parse(a.text) as { error: { code: string } }).error.code;

describe('the host ABI answers alike on the node and on workerd', () => {
  it('kv and the event log: not found, put, new, duplicate, conflict, and the fold of the new event', async () => {
    expect(codes(await same(get('r')))).toEqual([-1]);
    expect(codes(await same(post('w')))).toEqual([0, 0]);
    expect(codes(await same(post('w')))).toEqual([0, 1]);
    expect(codes(await same(post('c')))).toEqual([2]);
    expect((await same(get('r'))).text).toBe('v1');
    expect(codes(await same(get('f')))).toEqual([1]);
  });

  it('a trap, on a write or a read, keeps none of the writes of its call', async () => {
    expect(errorCode(await same(post('t')))).toBe('guest_trap');
    expect(errorCode(await same(get('t')))).toBe('guest_trap');
    expect((await same(get('r'))).text).toBe('v1');
    expect(codes(await same(get('f')))).toEqual([1]);
  });

  it('a response frame outside memory is guest_bad_response, and keeps none of the writes of its call', async () => {
    expect(errorCode(await same(post('b')))).toBe('guest_bad_response');
    expect((await same(get('r'))).text).toBe('v1');
  });

  it('bad arguments get the same error codes', async () => {
    const { OUT_OF_BOUNDS, TOO_LARGE, INVALID, NOT_FOUND } = { OUT_OF_BOUNDS: -3, TOO_LARGE: -4, INVALID: -5, NOT_FOUND: -1 };
    const graceDefault = String(7 * 24 * 3600 * 1000).length;
    expect(codes(await same(get('e')))).toEqual([OUT_OF_BOUNDS, TOO_LARGE, INVALID, INVALID, INVALID, INVALID, graceDefault, NOT_FOUND, OUT_OF_BOUNDS]);
    expect((await same(get(''))).status).toBe(400);
  });
});
