/**
 * A client for sensors and gateways: posts readings and retries the same readings, idempotently,
 * after a network error, a timeout, a 408, a 429 or a 5xx, no sooner than the node's `Retry-After`.
 * The node identifies a reading by `(device_id, timestamp)`, so a retry of something that did reach
 * the node is answered `duplicate` and counted once: retrying is always safe.
 *
 *   const client = new SensorClient({ url: 'http://127.0.0.1:8787', token });
 *   const result = await client.send([{ device_id: 's1', region: 'eu', temperature_c: 21.5, timestamp: Date.now() }]);
 */
import { RetryableError, withRetry, type RetryOptions } from '../resilience/index.js';
import { parseRetryAfter } from './retry-after.js';

export interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

/** Any other item is sent as it is; the node answers it like any other, a malformed one `rejected` with its code. */
export type RawReading = Readonly<Record<string, unknown>>;

export interface ItemResult {
  status: 'accepted' | 'duplicate' | 'rejected';
  error?: { code: string; message: string; field?: string };
}

/** The node's answer to a batch (docs/api.md): one result per reading, in order. */
export interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: ItemResult[];
}

export interface SensorClientOptions {
  /** The node's base URL. */
  url: string;
  /** A device or gateway token. @default none: no `authorization` header (only a node run with `--auth false` accepts that) */
  token?: string;
  /** Attempts, time budget and backoff. @default up to 10 attempts within 60 s, full jitter from 100 ms to 10 s */
  retry?: Omit<RetryOptions, 'retryable'>;
  /** How long one attempt may take before it is abandoned and retried, in ms. @default 10000 */
  timeoutMs?: number;
  /** The longest `Retry-After` honoured, in ms; a node asking for more is retried after this. @default 60000 */
  maxRetryAfterMs?: number;
  /** The fetch to send with: a wrapper can count, inject faults or use another dispatcher. @default globalThis.fetch */
  fetch?: typeof fetch;
}

export interface SendOptions {
  /** Ends the retries: `send` then rejects with the abort's reason, and what the node holds of the batch is unknown. */
  signal?: AbortSignal;
  /** Called before each attempt; `attempt` is 0 for the first one. @default ignore */
  onAttempt?: (attempt: number) => void;
  /** Called after each attempt that failed in a way worth retrying, whether or not a retry follows. @default ignore */
  onFailure?: (error: RetryableError) => void;
}

/** A failure the client will not retry: the request itself was refused as a whole (a 4xx other than 408 and 429), and nothing of it was stored. */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  constructor(
    readonly status: number,
    /** The node's error code, or `http_<status>` when the answer has none. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class SensorClient {
  private readonly endpoint: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: SensorClientOptions) {
    this.endpoint = `${options.url}/v1/readings`;
    this.headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
  }

  /** Posts a batch, the same bytes on every attempt; resolves with the per-item results once the node has answered them. */
  send(readings: ReadonlyArray<Reading | RawReading>, options: SendOptions = {}): Promise<BatchResult> {
    const body = JSON.stringify(readings);
    const { signal } = options;
    return withRetry(
      async (attempt) => {
        options.onAttempt?.(attempt);
        try {
          return await this.attempt(body, readings.length, signal);
        } catch (error) {
          if (error instanceof RetryableError) options.onFailure?.(error);
          throw error;
        }
      },
      { ...this.options.retry, retryable: (e) => e instanceof RetryableError },
      signal,
    );
  }

  private async attempt(body: string, count: number, signal: AbortSignal | undefined): Promise<BatchResult> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.endpoint, { method: 'POST', headers: this.headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (error) {
      if (signal?.aborted || error instanceof RetryableError) throw error;
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new RetryableError(timedOut ? 'timeout' : 'network', `POST ${this.endpoint}: ${describe(error)}`, { cause: error });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new RetryableError('network', `POST ${this.endpoint}: the answer was cut off`, { cause: error });
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      const retryAfterMs = Math.min(parseRetryAfter(res.headers.get('retry-after')) ?? 0, this.options.maxRetryAfterMs ?? 60_000);
      throw new RetryableError(`http_${res.status}`, `POST ${this.endpoint}: ${res.status} ${errorMessage(text)}`, { retryAfterMs });
    }
    if (res.status === 200 || res.status === 422) {
      const result = parseBatchResult(text, count);
      if (!result) throw new RetryableError('bad_answer', `POST ${this.endpoint}: ${res.status} without one result per reading`);
      return result;
    }
    const { code, message } = errorOf(text);
    throw new RequestRefusedError(res.status, code ?? `http_${res.status}`, message ?? (res.statusText || text.slice(0, 200)));
  }
}

function parseBatchResult(text: string, count: number): BatchResult | undefined {
  try {
    const body = JSON.parse(text) as Partial<BatchResult>;
    return Array.isArray(body.results) && body.results.length === count ? (body as BatchResult) : undefined;
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

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
