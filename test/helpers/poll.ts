/**
 * Waiting in tests: for a condition, bounded and failing with what was awaited (never a bare sleep in a
 * loop), or for a fixed time where the test means a pause.
 */

export interface UntilOptions {
  /** How long to keep trying before failing. @default 5000 */
  timeoutMs?: number;
  /** The pause between two tries. @default 50 */
  intervalMs?: number;
  /**
   * What was awaited, or the state to show, in the error when time runs out. A function is called then
   * (it may be async), so it can describe the state at that moment.
   * @default 'the condition'
   */
  message?: string | (() => string | Promise<string>);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `probe` until it returns something other than `undefined`, and returns that. A throw from `probe`
 * counts as "not yet" (a node may be restarting), and the last one is shown if time runs out.
 * @throws Error `timed out after <timeoutMs> ms: <message>` once `timeoutMs` has passed.
 */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 5_000, intervalMs = 50, message = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const what = typeof message === 'string' ? message : await describe(message);
      const last = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms: ${what}${last}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/** Calls `predicate` until it returns true; fails as {@link eventually} does. */
export async function until(predicate: () => boolean | Promise<boolean>, options: UntilOptions = {}): Promise<void> {
  await eventually(async () => ((await predicate()) ? true : undefined), options);
}

async function describe(message: () => string | Promise<string>): Promise<string> {
  try {
    return await message();
  } catch (error) {
    return `(the state could not be described: ${String(error)})`;
  }
}
