/* global TextDecoderStream */
/**
 * The node's HTTP API as the dashboard uses it: JSON reads with the session's token, and the region
 * stream read with fetch (not EventSource) so the token goes in a header, not the URL, and a 401 is
 * seen as a 401 with its message rather than as an anonymous connection error.
 */

/** The node refused the token (401) or its scope (403); `message` is the node's own explanation. */
export class AuthError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
  }
}

/** Any other non-2xx answer. */
export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return res.status === 401 || res.status === 403 ? new AuthError(res.status, code, message) : new HttpError(res.status, code, message);
}

function headers(token, extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function fetchJson(path, token, signal, allow) {
  const res = await fetch(path, { headers: headers(token, { accept: 'application/json' }), signal, cache: 'no-store' });
  if (!res.ok && !allow.includes(res.status)) throw await errorOf(res);
  return { ok: res.ok, status: res.status, body: await res.json().catch(() => null) };
}

/** GET a JSON resource; throws AuthError, HttpError, or the network's TypeError. */
export async function getJson(path, token, { signal, allow = [] } = {}) {
  const { ok, status, body } = await fetchJson(path, token, signal, allow);
  // A paged list (GET /v1/regions): follow next_cursor, so the caller gets every item.
  while (ok && Array.isArray(body?.regions) && typeof body.next_cursor === 'string') {
    const page = await fetchJson(`${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(body.next_cursor)}`, token, signal, []);
    body.regions.push(...page.body.regions);
    body.next_cursor = page.body.next_cursor;
  }
  return { status, body };
}

/**
 * Reads `GET /v1/stream` until closed, reconnecting with exponential backoff and jitter.
 * Calls onEvent(type, data) per event, onState('live' | 'reconnecting'), and onAuthError(err) once
 * when the token is refused (it does not reconnect then).
 */
export function openStream(path, token, { onEvent, onState, onAuthError }) {
  const abort = new AbortController();
  let retryMs = 2000;
  let failures = 0;
  let timer;

  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(path, { headers: headers(token, { accept: 'text/event-stream' }), signal: abort.signal, cache: 'no-store' });
        if (res.status === 401 || res.status === 403) {
          onAuthError(await errorOf(res));
          return;
        }
        if (!res.ok || !res.body) throw await errorOf(res);
        failures = 0;
        onState('live');
        await readEvents(res.body, onEvent, (ms) => (retryMs = ms));
      } catch (error) {
        if (abort.signal.aborted) return;
        if (!(error instanceof TypeError) && !(error instanceof HttpError)) console.error('stream', error);
      }
      if (abort.signal.aborted) return;
      onState('reconnecting');
      failures++;
      const backoff = Math.min(retryMs * 2 ** Math.min(failures - 1, 4), 30_000);
      await new Promise((resolve) => {
        timer = setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2));
      });
    }
  };
  void run();
  return {
    close() {
      clearTimeout(timer);
      abort.abort();
    },
  };
}

/** The text/event-stream format (HTML Living Standard §9.2.6), enough of it for the node's stream. */
async function readEvents(body, onEvent, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) onEvent(type || 'message', data.join('\n'));
        type = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') type = val;
      else if (field === 'data') data.push(val);
      else if (field === 'retry' && /^\d+$/.test(val)) onRetry(Number(val));
    }
  }
}
