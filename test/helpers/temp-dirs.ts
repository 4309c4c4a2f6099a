/**
 * Temporary directories and other clean-ups, undone deterministically: what a test (or its beforeEach)
 * makes is undone after that test, what the file's top level or a beforeAll makes is undone after the
 * file. Importing this module registers the hooks that do it, so import it from test files only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach } from 'vitest';

const afterTest: Array<() => void> = [];
const afterFile: Array<() => void> = [];
let inTest = false;

// Registered before the importing file's own hooks, so this beforeEach runs first and this afterEach
// last: a test's afterEach can still use (and close what is in) its directories.
beforeEach(() => {
  inTest = true;
});
afterEach(() => {
  inTest = false;
  runAll(afterTest);
});
afterAll(() => runAll(afterFile));

function runAll(cleanups: Array<() => void>): void {
  const errors: unknown[] = [];
  // Newest first: a store opened in a directory is closed before the directory goes.
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'clean-ups failed');
}

/**
 * Runs `fn` after the current test, or after the file when called outside a test; in reverse order of
 * registration, with the directories of {@link tempDir}.
 */
export function defer(fn: () => void): void {
  (inTest ? afterTest : afterFile).push(fn);
}

/** A fresh directory `edgeagg-<prefix>-XXXXXX` under the OS temp dir, removed as {@link defer} says. */
export function tempDir(prefix = 'test'): string {
  const dir = mkdtempSync(join(tmpdir(), `edgeagg-${prefix}-`));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
