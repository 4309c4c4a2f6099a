/**
 * Resolves after `ms`, or as soon as `signal` aborts (at once if it already has). Never rejects: a loop
 * that sleeps checks its signal after waking, so stopping it is not an error to handle.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
