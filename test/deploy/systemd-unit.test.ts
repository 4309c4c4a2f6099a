/** The shipped systemd unit (deploy/systemd/edgeagg.service) is one systemd accepts, and runs the node as documented. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { ROOT } from '../helpers/guests.js';

const UNIT = join(ROOT, 'deploy/systemd/edgeagg.service');

/** What `systemd-analyze verify` says of a unit: its exit code, and its warnings (an unknown key is only a warning). */
function verify(path: string): { status: number | null; output: string } {
  // It checks the directives and that ExecStart's program exists; it needs no running systemd.
  const r = spawnSync(requireBinary('systemd-analyze'), ['verify', path], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    expect(verify(UNIT)).toEqual({ status: 0, output: '' });
  });

  it('would be refused with a misspelt directive (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeagg-unit-'));
    try {
      const broken = join(dir, 'edgeagg.service');
      writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('Restart=on-failure', 'Restart=sometimes'));
      expect(verify(broken).output).toMatch(/restart specifier.*sometimes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drains on SIGTERM, restarts on failure, and keeps its data private', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^StateDirectoryMode=0700$/m);
    expect(unit).toMatch(/^ExecStart=.*bin\/edgeagg\.js serve --data-dir \/var\/lib\/edgeagg/m);
    // Started through node, bin/edgeagg.js's shebang is not read: its memory flags must be on the command line.
    const shebangFlags = readFileSync(join(ROOT, 'bin/edgeagg.js'), 'utf8').split('\n')[0]!.replace(/^#!\/usr\/bin\/env -S node /, '');
    expect(unit).toContain(`ExecStart=/usr/bin/node ${shebangFlags} /opt/edge-aggregator/bin/edgeagg.js`);
  });
});
