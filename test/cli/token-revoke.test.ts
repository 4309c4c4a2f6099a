/**
 * `edgeagg token revoke` against the data directory of a running node (issue 16, item 5): the node
 * refuses revoked tokens within a second, and still after a restart; and `token-max-lifetime-s`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { ROOT } from '../helpers/guests.js';
import { sleep, until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
let node: NodeProcess;
let dataDir: string;

/** Runs the CLI without blocking the event loop (a blocked test process would miss the node closing idle connections). */
function edgeagg(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function create(...args: string[]): Promise<string> {
  const r = await edgeagg('token', 'create', ...args, '--data-dir', dataDir);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

const reading = (device: string) => ({ device_id: device, region: 'revoke', temperature_c: 20, timestamp: Date.now() - 60_000 });
const post = async (device: string, token: string) => (await node.postReadings(reading(device), token)).status;

beforeAll(async () => {
  dataDir = join(tempDir('revoke'), 'data');
  node = await NodeProcess.start({ dataDir, flags: { 'token-max-lifetime-s': String(40 * 86400) } });
});

afterAll(async () => {
  await node?.stop();
});

describe('regression: no revocation', () => {
  it('revoke --token: the running node refuses that token within a second, not the others', async () => {
    const revoked = await create('--device', 'rv-1');
    const kept = await create('--device', 'rv-1');
    expect(await post('rv-1', revoked)).toBe(200);
    const r = await edgeagg('token', 'revoke', '--token', revoked, '--data-dir', dataDir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^revoked token \S+/);
    await until(async () => (await post('rv-1', revoked)) === 401, { timeoutMs: 3000 });
    const res = await node.postReadings(reading('rv-1'), revoked);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.stringMatching(/revoked/) } });
    expect(await post('rv-1', kept)).toBe(200);
  });

  it('revoke --id takes the jti', async () => {
    const token = await create('--gateway');
    const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    expect((await edgeagg('token', 'revoke', '--id', jti, '--data-dir', dataDir)).status).toBe(0);
    await until(async () => (await post('rv-2', token)) === 401, { timeoutMs: 3000 });
  });

  it('revoke --subject refuses every token of the subject issued until then; later ones work', async () => {
    const a = await create('--device', 'rv-3');
    const b = await create('--device', 'rv-3');
    const other = await create('--device', 'rv-4');
    expect((await edgeagg('token', 'revoke', '--subject', 'rv-3', '--data-dir', dataDir)).stdout).toMatch(/revoked every token of subject rv-3 issued until/);
    await until(async () => (await post('rv-3', a)) === 401, { timeoutMs: 3000 });
    expect(await post('rv-3', b)).toBe(401);
    expect(await post('rv-4', other)).toBe(200);
    // iat has a resolution of a second: a token of the same second counts as issued before.
    await sleep(1100);
    expect(await post('rv-3', await create('--device', 'rv-3'))).toBe(200);
  });

  it('revocations are persisted: still refused after a restart', async () => {
    const token = await create('--read');
    expect((await edgeagg('token', 'revoke', '--token', token, '--data-dir', dataDir)).status).toBe(0);
    await node.stop();
    node = await NodeProcess.start({ dataDir, flags: { 'token-max-lifetime-s': String(40 * 86400) } });
    expect((await node.fetch('/v1/regions/revoke', { token })).status).toBe(401);
    expect((await node.fetch('/v1/regions/revoke', { token: await create('--read') })).status).toBe(200);
  });

  it('refuses wrong arguments with the reason', async () => {
    expect((await edgeagg('token', 'revoke', '--data-dir', dataDir)).stderr).toContain('exactly one');
    expect((await edgeagg('token', 'revoke', '--id', 'a', '--subject', 'b', '--data-dir', dataDir)).stderr).toContain('exactly one');
    expect((await edgeagg('token', 'revoke', '--token', 'not-a-jwt', '--data-dir', dataDir)).stderr).toContain('not a JWT');
    const r = await edgeagg('token', 'revoke', '--id', 'x', '--data-dir', join(dataDir, 'nowhere'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no node database');
  });
});

describe('token-max-lifetime-s', () => {
  it('a token living longer than the setting is 401; within it, accepted', async () => {
    expect(await post('lt-1', await create('--device', 'lt-1', '--ttl', String(41 * 86400)))).toBe(401);
    expect(await post('lt-1', await create('--device', 'lt-1', '--ttl', String(39 * 86400)))).toBe(200);
  });
});
