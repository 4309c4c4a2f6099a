/** Every command that prints data prints it as JSON with --json (status: test/cli/status.test.ts). */
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');

function json(...args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('--json', () => {
  const dir = tempDir('json');

  it('keygen, sign and verify', () => {
    expect(json('keygen', '--out', join(dir, 'k'))).toEqual({ key_id: expect.any(String), private_key: join(dir, 'k.key.pem'), public_key: join(dir, 'k.pub.pem') });
    const wasm = join(dir, 'example.wasm');
    copyFileSync(join(ROOT, 'build/guests/example.wasm'), wasm);
    const signed = json('sign', wasm, '--key', join(dir, 'k.key.pem'), '--name', 'example', '--version', '1.2.3', '--capability', 'clock', 'config', 'events', 'kv', 'log', 'metrics');
    expect(signed).toMatchObject({ manifest: { name: 'example', version: '1.2.3' }, signature_file: `${wasm}.sig.json` });
    expect(json('verify', wasm, '--trusted-keys', join(dir, 'k.pub.pem'))).toMatchObject({ ok: true, name: 'example', version: '1.2.3', abi: 1 });
  });

  it('token create and token revoke', async () => {
    const node = await NodeProcess.start();
    try {
      await node.stop();
      const created = json('token', 'create', '--device', 'd-1', '--ttl', '3600', '--data-dir', node.dataDir);
      expect(created).toMatchObject({ token: expect.stringMatching(/^ey/), scope: 'device', subject: 'd-1', token_id: expect.any(String) });
      expect(Date.parse(created.expires_at as string) - Date.now()).toBeGreaterThan(3_500_000);
      expect(json('token', 'revoke', '--id', created.token_id as string, '--data-dir', node.dataDir)).toMatchObject({ revoked: 'token', token_id: created.token_id });
    } finally {
      node.cleanup();
    }
  });
});
