/**
 * Answers in the node's shapes (src/http/respond.ts): the same status, content type and body bytes, and
 * the same headers. An answer is a plain object so it can cross from the Durable Object to the Worker.
 */
/* global Response */
import { GuestCallError } from './guest.js';
import { StoreUnavailableError } from './sql-store.js';

/** @typedef {{ status: number, contentType: string, body: Uint8Array, headers: Record<string, string> }} Answer */

const encoder = new TextEncoder();

/** Seconds a client should wait before retrying after a transient failure. */
export const RETRY_AFTER_SECONDS = 1;

/** @returns {Answer} */
export function errorAnswer(status, code, message, headers = {}) {
  return { status, contentType: 'application/json', body: encoder.encode(JSON.stringify({ error: { code, message } })), headers };
}

/** The guest's own answer; a 503 of its own tells the client when to retry, as the node's do. @returns {Answer} */
export function guestAnswer(result) {
  const headers = result.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  return { status: result.status, contentType: result.contentType || 'application/json', body: result.body, headers };
}

/** A failed guest call: the guest's fault is 500, a transient one 503 (sendGuestFailure on the node). @returns {Answer} */
export function failureAnswer(error) {
  const retry = { 'retry-after': String(RETRY_AFTER_SECONDS) };
  if (error instanceof StoreUnavailableError) {
    return errorAnswer(503, error.code, `the store is unavailable (${error.code}): retry later; nothing of this request was stored`, retry);
  }
  if (error instanceof GuestCallError) {
    if (error.code === 'store_unavailable') {
      return errorAnswer(503, error.storeCode ?? 'store_unavailable', `the store is unavailable (${error.storeCode ?? 'unknown'}): retry later`, retry);
    }
    return errorAnswer(500, error.code, `the handler failed (${error.code}); nothing of this request was stored`);
  }
  return errorAnswer(500, 'internal_error', 'internal error; nothing of this request was stored');
}

/** @param {Answer} answer */
export function toResponse(answer) {
  return new Response(answer.body, {
    status: answer.status,
    headers: {
      'content-type': answer.contentType,
      'cache-control': 'no-store',
      // Browsers must not guess another type (say, HTML) from a body an attacker may have put words into.
      'x-content-type-options': 'nosniff',
      ...answer.headers,
    },
  });
}
