/**
 * Posting batches the way a careful sensor does: the same bytes again after a network error, a
 * timeout or a 5xx (a reading is identified by `(device_id, timestamp)`, so a retry is idempotent:
 * the node answers `duplicate` for what it already had), with the project's backoff and jitter
 * (src/resilience), and no sooner than the node's `Retry-After`.
 */
import { withRetry } from '../resilience/index.js';

/** A failed attempt worth repeating; `kind` names it in the counters (`network`, `timeout`, `http_503`, ...). */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    readonly kind: string,
    message: string,
    /** The node's Retry-After, in milliseconds. */
    readonly retryAfterMs = 0,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ItemResult {
  status: string;
  error?: { code?: string; message?: string; field?: string };
}

export type PostOutcome =
  | { kind: 'answered'; status: number; results: ItemResult[] }
  /** Refused as a whole with a 4xx: nothing of the request was stored, and sending it again would not help. */
  | { kind: 'refused'; status: number; code: string; message: string };

export interface PostHooks {
  /** Ends the retries: the request is abandoned (its outcome is then unknown). */
  signal: AbortSignal;
  /** Before each attempt; `attempt` is 0 for the first one. */
  onAttempt: (attempt: number) => void;
  /** After each failed attempt. */
  onFailure: (kind: string) => void;
  /** Whether to throw this answer away and send again, as a sensor that never heard back does. */
  loseAnswer: () => boolean;
}

export interface ReadingsClientOptions {
  /** The node's base URL. */
  url: string;
  /** @default 10000 */
  timeoutMs?: number;
  /** First retry delay, ms. @default 100 */
  initialDelayMs?: number;
  /** Longest retry delay, ms. @default 2000 */
  maxDelayMs?: number;
}

export class ReadingsClient {
  private readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ReadingsClientOptions) {
    this.endpoint = `${options.url}/v1/readings`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Posts one JSON batch of `count` readings until it is answered or refused; throws if `hooks.signal` ends it first. */
  post(token: string | undefined, body: string, count: number, hooks: PostHooks): Promise<PostOutcome> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const signal = hooks.signal;
    return withRetry(
      async (attempt) => {
        signal.throwIfAborted();
        hooks.onAttempt(attempt);
        let outcome: PostOutcome;
        try {
          outcome = await this.attempt(headers, body, count, signal);
        } catch (error) {
          if (!(error instanceof RetryableError)) throw error;
          hooks.onFailure(error.kind);
          // The node asked for a pause: take it before the backoff's own wait.
          if (error.retryAfterMs > 0) await sleep(error.retryAfterMs, signal);
          throw error;
        }
        if (outcome.kind === 'refused') hooks.onFailure(`http_${outcome.status}`);
        else if (hooks.loseAnswer()) throw new RetryableError('lost_answer', 'the answer was lost (simulated)');
        return outcome;
      },
      {
        // Retries go on until the caller gives up (hooks.signal): a sensor keeps its readings until they are answered.
        maxAttempts: Number.POSITIVE_INFINITY,
        budgetMs: Number.POSITIVE_INFINITY,
        initialDelayMs: this.options.initialDelayMs ?? 100,
        maxDelayMs: this.options.maxDelayMs ?? 2_000,
        retryable: (e) => e instanceof RetryableError,
      },
      signal,
    );
  }

  private async attempt(headers: Record<string, string>, body: string, count: number, signal: AbortSignal): Promise<PostOutcome> {
    let res: Response;
    try {
      res = await fetch(this.endpoint, { method: 'POST', headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) });
    } catch (error) {
      if (signal.aborted) throw error;
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new RetryableError(timedOut ? 'timeout' : 'network', `POST ${this.endpoint}: ${describe(error)}`, 0, { cause: error });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (signal.aborted) throw error;
      throw new RetryableError('network', `POST ${this.endpoint}: the answer was cut off`, 0, { cause: error });
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw new RetryableError(`http_${res.status}`, `POST ${this.endpoint}: ${res.status} ${errorMessage(text)}`, retryAfterMs(res.headers.get('retry-after')));
    }
    if (res.status === 200 || res.status === 422) {
      const results = parseResults(text, count);
      if (!results) throw new RetryableError('bad_answer', `POST ${this.endpoint}: ${res.status} without one result per reading`);
      return { kind: 'answered', status: res.status, results };
    }
    const { code, message } = errorOf(text);
    return { kind: 'refused', status: res.status, code: code ?? `http_${res.status}`, message: message ?? res.statusText };
  }
}

function parseResults(text: string, count: number): ItemResult[] | undefined {
  try {
    const body = JSON.parse(text) as { results?: unknown };
    if (!Array.isArray(body.results) || body.results.length !== count) return undefined;
    return body.results as ItemResult[];
  } catch {
    return undefined;
  }
}

function errorOf(text: string): { code?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return { code: body.error?.code, message: body.error?.message };
  } catch {
    return {};
  }
}

function errorMessage(text: string): string {
  const { code, message } = errorOf(text);
  return code ? `${code}: ${message ?? ''}` : text.slice(0, 200);
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; capped at a minute. */
function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
