/** Answers in the API's shapes: JSON bodies, and `{"error": {"code", "message"}}` for failures. */
import type { ServerResponse } from 'node:http';
import { CircuitOpenError } from '../resilience/index.js';
import { GuestCallError, StoreUnavailableError } from '../runtime/index.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendBody(res, status, 'application/json', JSON.stringify(body), headers);
}

export function sendBody(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    'cache-control': 'no-store',
    // Browsers must not guess another type (say, HTML) from a body an attacker may have put words into.
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

/** Seconds a client should wait before retrying after a transient failure. */
export const RETRY_AFTER_SECONDS = 1;

/** Maps a failed guest call to its answer: the guest's fault is 500, a transient one 503. */
export function sendGuestFailure(res: ServerResponse, error: unknown): void {
  if (error instanceof StoreUnavailableError) {
    sendError(res, 503, error.code, `the store is unavailable (${error.code}): retry later; nothing of this request was stored`, {
      'retry-after': String(RETRY_AFTER_SECONDS),
    });
    return;
  }
  if (error instanceof GuestCallError) {
    if (error.code === 'store_unavailable') {
      sendError(res, 503, error.storeCode ?? 'store_unavailable', `the store is unavailable (${error.storeCode ?? 'unknown'}): retry later`, {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
      return;
    }
    if (error.code === 'deadline_exceeded') {
      sendError(res, 503, error.code, 'the handler ran past its CPU deadline: retry later, or send smaller batches', {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
      return;
    }
    sendError(res, 500, error.code, `the handler failed (${error.code}); nothing of this request was stored`);
    return;
  }
  sendError(res, 500, 'internal_error', 'internal error; nothing of this request was stored');
}

/**
 * Answers a failed guest or store call: an open circuit is 503 with the time to wait, the rest as
 * `sendGuestFailure`. True when the failure is one the node expects (the caller logs the others: they
 * are host bugs).
 */
export function sendCallFailure(res: ServerResponse, error: unknown): boolean {
  if (error instanceof CircuitOpenError) {
    sendError(res, 503, error.code, `${error.message}; retry later`, { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) });
    return true;
  }
  sendGuestFailure(res, error);
  return error instanceof GuestCallError;
}
