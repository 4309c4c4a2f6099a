/**
 * One node per data directory (issue 17): a second node started on a directory a running node uses refuses at
 * once, with a clear message and nothing touched; a lock left by a node killed with SIGKILL is taken over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { NodeProcess } from '../helpers/node-process.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');

describe('one node per data directory', () => {
  it('refuses a second node on the same directory, and lets one start after the first was killed', async () => {
    const first = await NodeProcess.start();
    try {
      const second = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', first.dataDir], { encoding: 'utf8', timeout: 20_000 });
      expect(second.status).toBe(1);
      expect(second.stderr.trim()).toMatch(new RegExp(`^edgeagg: another node \\(pid \\d+\\) is running on the data directory .*: stop it, or give this one its own --data-dir$`));
      // The first one is untouched and still serves.
      expect((await first.fetch('/readyz')).status).toBe(200);

      await first.kill();
      expect(existsSync(join(first.dataDir, 'node.lock'))).toBe(true);
      const after = await NodeProcess.start({ dataDir: first.dataDir });
      expect((await after.fetch('/readyz')).status).toBe(200);
      await after.stop();
      // A node that stops releases the directory.
      expect(existsSync(join(first.dataDir, 'node.lock'))).toBe(false);
    } finally {
      await first.stop();
      first.cleanup();
    }
  });
});
