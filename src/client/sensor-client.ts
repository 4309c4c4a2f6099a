/**
 * A client for sensors and gateways: posts readings and retries the same readings, idempotently,
 * after a network error, a 5xx or a 429 (honouring `Retry-After`). The node identifies a reading by
 * `(device_id, timestamp)`, so a retry of something that did reach the node is answered
 * `duplicate` and counted once: retrying is always safe.
 *
 *   const client = new SensorClient({ url: 'http://127.0.0.1:8787', token });
 *   const result = await client.send([{ device_id: 's1', region: 'eu', temperature_c: 21.5, timestamp: Date.now() }]);
 */
import { withRetry, type RetryOptions } from '../resilience/retry.js';

export interface Reading {
  device_id: string;
  region: string;
  temperature_c: number;
  timestamp: number;
}

export interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: Array<{ status: 'accepted' | 'duplicate' | 'rejected'; error?: { code: string; message: string; field?: string } }>;
}

export interface SensorClientOptions {
  /** The node's base URL. */
  url: string;
  /** A device or gateway token. */
  token: string;
  /** @default up to 10 attempts within 60 s, backoff from 100 ms to 10 s */
  retry?: RetryOptions;
}

/** A failure the client will not retry: the request itself is wrong (4xx other than 429). */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

class RetryableError extends Error {
  override name = 'RetryableError';
}

export class SensorClient {
  constructor(private readonly options: SensorClientOptions) {}

  /** Posts a batch; resolves with the per-item results once the node has acknowledged it. */
  send(readings: Reading[], signal?: AbortSignal): Promise<BatchResult> {
    const body = JSON.stringify(readings);
    return withRetry(
      async () => {
        let res: Response;
        try {
          res = await fetch(`${this.options.url}/v1/readings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
            body,
            signal,
          });
        } catch (error) {
          throw new RetryableError(`network: ${String(error)}`);
        }
        if (res.status === 200 || res.status === 422) return (await res.json()) as BatchResult;
        const text = await res.text();
        let code = 'unknown';
        try {
          code = (JSON.parse(text) as { error: { code: string } }).error.code;
        } catch {
          // not our JSON: keep "unknown"
        }
        if (res.status === 429 || res.status >= 500) {
          const retryAfter = Number(res.headers.get('retry-after') ?? 0);
          const wait = Number.isFinite(retryAfter) ? retryAfter * 1000 : 0;
          // Honour Retry-After before the backoff's own wait.
          if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 30_000)));
          throw new RetryableError(`${res.status} ${code}`);
        }
        throw new RequestRefusedError(res.status, code, text);
      },
      { ...this.options.retry, retryable: (e) => e instanceof RetryableError },
      signal,
    );
  }
}
