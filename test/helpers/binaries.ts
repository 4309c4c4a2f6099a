/**
 * The system programs the tests run (Debian's nats-server, prometheus, chromium...). A missing one fails the
 * test with the command that installs it: no test is skipped because a program is missing, or a machine
 * without it would pass while testing less.
 */
import { accessSync, constants } from 'node:fs';
import { basename, join } from 'node:path';

/** Debian installs servers in /usr/sbin, which is not on every user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the program `name` is (PATH, then the sbin folders), or undefined. A path is checked as it is. */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return executable(name) ? name : undefined;
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...EXTRA_DIRS]) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Thrown by {@link requireBinary}: a program the tests need is not installed. */
export class MissingBinaryError extends Error {
  override name = 'MissingBinaryError';
  constructor(readonly binary: string) {
    super(`${binary} is missing: run \`scripts/install-system-deps.sh\` (or \`npm test\`, which runs it)`);
  }
}

/**
 * The path of the program `name` (or of the executable at the path `name`).
 * @throws MissingBinaryError, saying what to run, when it is not installed.
 */
export function requireBinary(name: string): string {
  const path = findBinary(name);
  if (path === undefined) throw new MissingBinaryError(basename(name));
  return path;
}
