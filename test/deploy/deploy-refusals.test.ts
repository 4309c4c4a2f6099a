/**
 * Refused deployments (issue 15, "Refusals, each with its code and no state change"): on one real node,
 * each refusal answers its HTTP status and code, and leaves `GET /v1/deployments` and the registry's files
 * exactly as they were. A lower release is accepted only with the downgrade flag, and that is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, signModule, type Capability } from '../../src/runtime/index.js';
import { builtGuest, testKey } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually } from '../helpers/poll.js';
import { aggregatorVersion, appView, deploy, signed, trustingDataDir, type SignedModule } from './deploy-fixtures.js';

const ALL: Capability[] = ['clock', 'config', 'events', 'kv', 'log', 'metrics'];
/** Between the example guest (about 15 KB) and the aggregator (about 52 KB). */
const MAX_MODULE_BYTES = 30_000;

function example(version: string, release: number, wasm: Uint8Array = builtGuest('example')): SignedModule {
  return signed(wasm, 'example', version, { release, capabilities: ALL });
}

/** The same module with a custom section appended: still valid WebAssembly, other bytes. */
function withCustomSection(wasm: Uint8Array): Uint8Array {
  const name = Buffer.from('test');
  return new Uint8Array(Buffer.concat([wasm, Buffer.from([0, 1 + name.length, name.length]), name]));
}

describe('refused deployments change nothing', () => {
  let node: NodeProcess;
  let admin: string;

  beforeAll(async () => {
    node = await NodeProcess.start({ dataDir: trustingDataDir(), flags: { 'max-module-bytes': String(MAX_MODULE_BYTES), 'canary-min-calls': '1000000' } });
    admin = await node.token('admin', 'ops');
  }, 30_000);

  afterAll(async () => {
    await node?.stop();
    if (node) rmSync(node.dataDir, { recursive: true, force: true });
  });

  /** What a refusal must not change: the listing (records, versions, history) and the registry's files. */
  async function state(): Promise<{ deployments: string; modules: string[] }> {
    const res = await node.fetch('/v1/deployments', { token: admin });
    expect(res.status).toBe(200);
    return { deployments: await res.text(), modules: readdirSync(join(node.dataDir, 'modules')).sort() };
  }

  async function expectRefused(send: () => Promise<Response>, status: number, code: string): Promise<void> {
    const before = await state();
    const res = await send();
    const text = await res.text();
    expect(res.status, text).toBe(status);
    expect((JSON.parse(text) as { error: { code: string } }).error.code, text).toBe(code);
    expect(await state()).toEqual(before);
  }

  function post(path: string, body: string, token = admin): Promise<Response> {
    return node.fetch(path, { method: 'POST', token, headers: { 'content-type': 'application/json' }, body });
  }

  async function serving(app: string, version: string): Promise<void> {
    await eventually(async () => ((await appView(node, admin, app))?.stable?.version === version ? true : undefined), { timeoutMs: 30_000, message: `${app}@${version} serving` });
  }

  it('refuses a body that is not a valid deploy request (400)', async () => {
    const good = example('1.0.0', 5);
    const fields = { module_base64: Buffer.from(good.wasm).toString('base64'), signature: good.signature, grants: ALL };
    const cases: Array<[string, string]> = [
      ['{"module_base64":', 'invalid_json'],
      ['[]', 'invalid_request'],
      ['"a string"', 'invalid_request'],
      [JSON.stringify({ ...fields, module_base64: undefined }), 'invalid_request'],
      [JSON.stringify({ ...fields, module_base64: 42 }), 'invalid_request'],
      [JSON.stringify({ ...fields, signature: undefined }), 'invalid_request'],
      [JSON.stringify({ ...fields, signature: 'sig' }), 'invalid_request'],
      [JSON.stringify({ ...fields, signature: null }), 'invalid_request'],
      [JSON.stringify({ ...fields, grants: 'kv' }), 'invalid_request'],
      [JSON.stringify({ ...fields, grants: ['kv', 'network'] }), 'invalid_request'],
      [JSON.stringify({ ...fields, state: 'copy' }), 'invalid_request'],
      [JSON.stringify({ ...fields, config: { greeting: 1 } }), 'invalid_request'],
      [JSON.stringify({ ...fields, config: ['a'] }), 'invalid_request'],
      [JSON.stringify({ ...fields, canary_percent: 0 }), 'invalid_share'],
      [JSON.stringify({ ...fields, canary_percent: 101 }), 'invalid_share'],
      [JSON.stringify({ ...fields, canary_percent: '10' }), 'invalid_share'],
      [JSON.stringify({ ...fields, stages_percent: [5, 0] }), 'invalid_share'],
      [JSON.stringify({ ...fields, stages_percent: [5, 250] }), 'invalid_share'],
    ];
    for (const [body, code] of cases) await expectRefused(() => post('/v1/deployments', body), 400, code);
    await expectRefused(() => post('/v1/deployments/aggregator/promote', '{'), 400, 'invalid_json');
    await expectRefused(() => post('/v1/deployments/aggregator/rollback', '{"version":1}'), 400, 'invalid_request');
  }, 60_000);

  it('refuses a module that fails verification (422 with the loader code) or is too large (413)', async () => {
    const good = example('1.0.0', 5);
    const unsigned = { ...good, signature: { manifest: good.signature.manifest } as typeof good.signature };
    await expectRefused(() => deploy(node, admin, unsigned, { grants: ALL }), 422, 'unsigned');
    await expectRefused(() => deploy(node, admin, { ...good, wasm: withCustomSection(good.wasm) }, { grants: ALL }), 422, 'hash_mismatch');
    const changed = { ...good.signature, manifest: { ...good.signature.manifest, release: 99 } };
    await expectRefused(() => deploy(node, admin, { ...good, signature: changed }, { grants: ALL }), 422, 'bad_signature');
    const stranger = generateSigningKey();
    const untrusted = { wasm: good.wasm, signature: signModule(good.wasm, { ...good.signature.manifest }, stranger.privateKeyPem) };
    await expectRefused(() => deploy(node, admin, untrusted, { grants: ALL }), 422, 'untrusted_key');
    const abi2 = { wasm: good.wasm, signature: signModule(good.wasm, { ...good.signature.manifest, abi: 2 }, testKey.privateKeyPem) };
    await expectRefused(() => deploy(node, admin, abi2, { grants: ALL }), 422, 'abi_mismatch');
    // Deny by default: a new app is granted nothing it is not given.
    await expectRefused(() => deploy(node, admin, good, { grants: [] }), 422, 'capability_not_granted');
    await expectRefused(() => deploy(node, admin, good), 422, 'capability_not_granted');
    await expectRefused(() => deploy(node, admin, good, { grants: ['clock', 'log'] }), 422, 'capability_not_granted');
    // The aggregator is larger than this node's --max-module-bytes; so, by far, is this body.
    await expectRefused(() => deploy(node, admin, aggregatorVersion('0.2.0', 1)), 413, 'module_too_large');
    const huge = { wasm: new Uint8Array(MAX_MODULE_BYTES * 20), signature: good.signature };
    await expectRefused(() => deploy(node, admin, huge, { grants: ALL }), 413, 'module_too_large');
  }, 60_000);

  it('refuses the same version with other bytes, the serving version again, and a lower release', async () => {
    const first = await deploy(node, admin, example('1.0.0', 5), { grants: ALL });
    expect(first.status, await first.clone().text()).toBe(202);
    await serving('example', '1.0.0');
    const other = example('1.0.0', 5, withCustomSection(builtGuest('example')));
    await expectRefused(() => deploy(node, admin, other), 409, 'version_exists');
    await expectRefused(() => deploy(node, admin, example('1.0.0', 5)), 409, 'already_serving');
    await expectRefused(() => deploy(node, admin, example('1.1.0', 4)), 409, 'release_rollback');
    await expectRefused(() => deploy(node, admin, example('1.1.0', 0), { allow_downgrade: false }), 409, 'release_rollback');
    expect((await appView(node, admin, 'example'))!.highest_release).toBe(5);
  }, 60_000);

  it('accepts a lower release with allow_downgrade, and records the downgrade', async () => {
    const res = await deploy(node, admin, example('0.9.0', 3), { allow_downgrade: true });
    expect(res.status, await res.clone().text()).toBe(202);
    await serving('example', '0.9.0');
    const view = (await appView(node, admin, 'example'))!;
    expect(view.highest_release).toBe(5);
    const downgrade = view.history.find((h) => h.action === 'downgrade');
    expect(downgrade).toMatchObject({ actor: 'ops', version: '0.9.0' });
    expect(downgrade!.detail).toMatch(/release 3 below 5/);
    // Logged and counted.
    expect(node.stdout + node.stderr).toMatch(/release downgrade accepted/);
    const metrics = await (await node.fetch('/metrics')).text();
    expect(metrics, metrics.split('\n').filter((l) => l.includes('downgrade')).join('\n')).toMatch(/edgeagg_deployment_downgrades[a-z_]*\{[^}]*app="example"[^}]*\} 1\b/);
  }, 60_000);

  it('refuses promotions and rollbacks with nothing to act on', async () => {
    await expectRefused(() => post('/v1/deployments/example/promote', '{}'), 409, 'no_canary');
    await expectRefused(() => post('/v1/deployments/nothing/promote', '{}'), 404, 'unknown_app');
    await expectRefused(() => post('/v1/deployments/example/promote', '{"percent":0}'), 400, 'invalid_share');
    await expectRefused(() => post('/v1/deployments/example/rollback', '{}'), 409, 'nothing_to_roll_back');
    await expectRefused(() => post('/v1/deployments/example/rollback', '{"version":"7.7.7"}'), 404, 'unknown_version');
    await expectRefused(() => post('/v1/deployments/example/rollback', '{"version":"0.9.0"}'), 409, 'already_serving');
    await expectRefused(() => post('/v1/deployments/nothing/rollback', '{}'), 404, 'unknown_app');
  }, 60_000);

  it('answers every deployments route with 403 to every non-admin scope and 401 without a token', async () => {
    // A canary in progress, so that a promotion or a rollback would change something.
    const canary = await deploy(node, admin, example('1.2.0', 6), { canary_percent: 10 });
    expect(canary.status, await canary.clone().text()).toBe(202);
    await eventually(async () => ((await appView(node, admin, 'example'))?.canary?.version === '1.2.0' ? true : undefined), { timeoutMs: 30_000, message: 'the canary' });
    const next = example('1.3.0', 7);
    const deployBody = JSON.stringify({ module_base64: Buffer.from(next.wasm).toString('base64'), signature: next.signature, grants: ALL });
    const routes: Array<[string, string, string | undefined]> = [
      ['GET', '/v1/deployments', undefined],
      ['POST', '/v1/deployments', deployBody],
      ['POST', '/v1/deployments/example/promote', '{}'],
      ['POST', '/v1/deployments/example/rollback', '{"reason":"not yours"}'],
    ];
    const tokens: Array<[string, string | undefined, number, string]> = [
      ['device', await node.token('device', 'dev-1'), 403, 'forbidden'],
      ['gateway', await node.token('gateway', 'gw-1'), 403, 'forbidden'],
      ['read', await node.token('read', 'reader'), 403, 'forbidden'],
      ['none', undefined, 401, 'unauthorized'],
      ['not a token', 'not-a-token', 401, 'unauthorized'],
    ];
    for (const [method, path, body] of routes) {
      for (const [, token, status, code] of tokens) {
        await expectRefused(() => node.fetch(path, { method, token, headers: body ? { 'content-type': 'application/json' } : {}, body }), status, code);
      }
    }
    const view = (await appView(node, admin, 'example'))!;
    expect(view.canary?.version).toBe('1.2.0');
    expect(view.versions.map((v) => v.version)).not.toContain('1.3.0');
  }, 60_000);
});
