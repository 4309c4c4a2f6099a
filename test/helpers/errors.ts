/** Catching what a call throws, so a test can assert on the error itself (its class, code, cause). */

/** Calls `fn`, expecting it to throw; returns what was thrown (an Error or any other value). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Awaits `promise`, expecting it to reject; returns the reason. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
