import type { IncomingMessage } from 'node:http';
import type { ByteBudget } from '../resilience/index.js';

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly code = 'body_too_large';
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** The body arrived slower than the minimum rate once the grace period was over. */
export class BodyTooSlowError extends Error {
  override name = 'BodyTooSlowError';
  readonly code = 'body_too_slow';
  constructor(
    readonly minBytesPerSecond: number,
    readonly received: number,
    readonly elapsedMs: number,
  ) {
    super(`the request body arrived slower than ${minBytesPerSecond} bytes/s (${received} bytes in ${Math.round(elapsedMs)} ms)`);
  }
}

/** The node holds as many body bytes as it allows at once; this body did not fit. */
export class BodyBudgetError extends Error {
  override name = 'BodyBudgetError';
  readonly code = 'uploads_overloaded';
  constructor(readonly limit: number) {
    super(`the node is receiving ${limit} bytes of request bodies at once`);
  }
}

/** The client went away (reset, closed) before its body was complete: nothing to answer, no host bug. */
export class ClientAbortError extends Error {
  override name = 'ClientAbortError';
  constructor(options?: { cause?: unknown }) {
    super('the client aborted the request', options);
  }
}

export interface ReadBodyOptions {
  /**
   * Bytes held at once across requests; each chunk is taken from it as it arrives. On success the
   * caller gives back `body.length` when done with the body; on failure readBody gives back what it took.
   * @default none
   */
  budget?: ByteBudget;
  /** Slower bodies are cut once `graceMs` has passed (0: no minimum). @default 0 */
  minBytesPerSecond?: number;
  /** Time a body may take before the minimum rate applies, in ms. @default 5000 */
  graceMs?: number;
}

/**
 * Reads a request body, counting bytes as they arrive: `Content-Length` can lie and chunked bodies
 * have none. Rejects as soon as the limit is passed, without buffering the rest. The rate is judged on
 * bytes over wall-clock time since the body began, never on CPU, so it holds on a busy machine.
 */
export function readBody(req: IncomingMessage, limit: number, options: ReadBodyOptions = {}): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    discardRest(req, limit);
    return Promise.reject(new BodyTooLargeError(limit));
  }
  const { budget } = options;
  const minRate = options.minBytesPerSecond ?? 0;
  const graceMs = options.graceMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const started = performance.now();
    let size = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      if (timer) clearInterval(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (error) {
        budget?.give(size);
        reject(error);
      } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) {
        finish(new BodyTooLargeError(limit));
        discardRest(req, limit);
        return;
      }
      if (budget && !budget.tryTake(chunk.length)) {
        finish(new BodyBudgetError(budget.limit));
        discardRest(req, limit);
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void => finish(new ClientAbortError({ cause: error }));
    const onAborted = (): void => finish(new ClientAbortError());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    if (minRate > 0) {
      timer = setInterval(
        () => {
          const elapsed = performance.now() - started;
          if (elapsed >= graceMs && size < (minRate * elapsed) / 1000) finish(new BodyTooSlowError(minRate, size, elapsed));
        },
        Math.min(1_000, Math.max(50, graceMs)),
      );
      timer.unref();
    }
  });
}

/**
 * After a 413 the rest of the body is read and dropped, so that the client (still sending) gets to
 * read the answer instead of a reset connection; past a bound the connection is cut.
 */
function discardRest(req: IncomingMessage, limit: number): void {
  const bound = Math.max(8 * limit, 16 * 1024 * 1024);
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bound) req.socket.destroy();
  });
  req.resume();
}

/** The media type of a `Content-Type` header, lower case, without parameters; '' when absent. */
export function mediaType(header: string | undefined): string {
  if (!header) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}
