/** The edgeagg command, run as a real process. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings, SettingsError } from '../../src/node/settings.js';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const dir = tempDir('cli');

function edgeagg(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('keygen, sign, verify', () => {
  const wasm = join(dir, 'example.wasm');
  writeFileSync(wasm, readFileSync(join(ROOT, 'build/guests/example.wasm')));

  it('signs a module that verify then accepts with the right key, and refuses with another', () => {
    expect(edgeagg('keygen', '--out', join(dir, 'ops')).status).toBe(0);
    expect(edgeagg('keygen', '--out', join(dir, 'other')).status).toBe(0);
    const sign = edgeagg('sign', wasm, '--key', join(dir, 'ops.key.pem'), '--name', 'example', '--version', '2.0.0',
      '--capability', 'kv', 'log', 'clock', 'config', 'events', 'metrics');
    expect(sign.status, sign.stderr).toBe(0);
    const ok = edgeagg('verify', wasm, '--trusted-keys', join(dir, 'ops.pub.pem'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('ok: example@2.0.0');
    const refused = edgeagg('verify', wasm, '--trusted-keys', join(dir, 'other.pub.pem'));
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('untrusted_key');
  });

  it('verify reports a module changed after signing', () => {
    const tampered = join(dir, 'tampered.wasm');
    const bytes = readFileSync(wasm);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(tampered, bytes);
    writeFileSync(`${tampered}.sig.json`, readFileSync(`${wasm}.sig.json`));
    const r = edgeagg('verify', tampered, '--trusted-keys', join(dir, 'ops.pub.pem'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('hash_mismatch');
  });

  it('verify reports an unsigned module', () => {
    const r = edgeagg('verify', join(ROOT, 'build/test-guests/infinite-loop.wasm'), '--trusted-keys', join(dir, 'ops.pub.pem'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('unsigned');
  });

  it('keygen never overwrites a key', () => {
    expect(edgeagg('keygen', '--out', join(dir, 'ops')).status).not.toBe(0);
  });

  it('sign refuses an unknown capability', () => {
    const r = edgeagg('sign', wasm, '--key', join(dir, 'ops.key.pem'), '--name', 'example', '--version', '1', '--capability', 'network');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown capability network');
  });
});

describe('token create', () => {
  it('prints a token the node of that data directory accepts, with the scope asked for', async () => {
    const node = await NodeProcess.start();
    try {
      const device = execFileSync(process.execPath, [CLI, 'token', 'create', '--device', 'sensor-9', '--data-dir', node.dataDir], { encoding: 'utf8' }).trim();
      const read = execFileSync(process.execPath, [CLI, 'token', 'create', '--read', '--data-dir', node.dataDir], { encoding: 'utf8' }).trim();
      const reading = { device_id: 'sensor-9', region: 'cli', temperature_c: 20, timestamp: Date.now() };
      const posted = await node.postReadings(reading, device);
      expect(posted.status).toBe(200);
      expect((await node.fetch('/v1/regions/cli', { token: read })).status).toBe(200);
      expect((await node.fetch('/v1/regions/cli', { token: device })).status).toBe(403);
    } finally {
      await node.stop();
      node.cleanup();
    }
  });

  it('needs exactly one scope, and a data directory with a node key', () => {
    expect(edgeagg('token', 'create', '--read', '--admin', '--data-dir', dir).stderr).toContain('exactly one');
    const r = edgeagg('token', 'create', '--read', '--data-dir', join(dir, 'nowhere'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no node key');
  });
});

describe('settings: flag, then environment, then config file, then default', () => {
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ port: 9001, host: '0.0.0.0', 'data-dir': '/from-file' }));

  it('takes each setting from the first place that has it', () => {
    const s = resolveSettings({ port: '9003' }, { EDGEAGG_HOST: '127.0.0.2' }, config);
    expect(s.port).toBe(9003);
    expect(s.host).toBe('127.0.0.2');
    expect(s['data-dir']).toBe('/from-file');
    expect(s['body-limit']).toBe(1024 * 1024);
  });

  it('reads the config file named by EDGEAGG_CONFIG', () => {
    expect(resolveSettings({}, { EDGEAGG_CONFIG: config }).port).toBe(9001);
  });

  it('refuses bad values and unknown keys, naming them', () => {
    expect(() => resolveSettings({ port: 'eighty' }, {})).toThrow(/--port: port must be a whole number from 0 to 65535/);
    expect(() => resolveSettings({}, { EDGEAGG_AUTH: 'maybe' })).toThrow(/EDGEAGG_AUTH: auth must be true or false/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ prot: 1 }));
    expect(() => resolveSettings({}, {}, join(dir, 'bad.json'))).toThrow(SettingsError);
    expect(() => resolveSettings({}, {}, join(dir, 'bad.json'))).toThrow(/unknown setting "prot"/);
  });

  it('serve takes its settings from the environment too', async () => {
    const node = await NodeProcess.start({ env: { EDGEAGG_AUTH: 'false' } });
    try {
      expect(node.stdout).toContain('auth:      OFF');
      expect((await node.fetch('/v1/regions')).status).toBe(200);
    } finally {
      await node.stop();
      node.cleanup();
    }
  });
});

describe('the edgeagg launcher (bin/edgeagg.js, the package bin)', () => {
  it('runs the command as an executable, with the Node flags that bound the node\'s memory', async () => {
    const launcher = join(ROOT, 'bin/edgeagg.js');
    const help = spawnSync(launcher, ['help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: edgeagg');
    // A node started through it: `env -S` replaces itself with node, so the process is node with the flags.
    const data = tempDir('cli-launcher');
    const child = spawn(launcher, ['serve', '--port', '0', '--data-dir', data, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('listening on')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('--max-semi-space-size=8');
      expect(argv).toContain('--heap-growing-percent=50');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
