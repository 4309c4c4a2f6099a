/**
 * The aggregator on workerd: the Worker translates a `Request` into the guest's envelope, checks what the
 * node checks before a guest sees a request (route, method, encoding, body size), and sends it to the one
 * Durable Object that holds the state. Authentication is off, as on a node started with `--no-auth`
 * (docs/workerd.md says how to put a token check in front).
 */
import { RETRY_AFTER_SECONDS, errorAnswer, toResponse } from './answers.js';
import { setting } from './settings.js';

export { AggregatorObject } from './aggregator-object.js';

/** The name of the one Durable Object every request goes to. */
const OBJECT_NAME = 'aggregator';

export default {
  async fetch(request, env) {
    const answer = await answerRequest(request, env);
    return toResponse(answer);
  },
};

async function answerRequest(request, env) {
  const { path, query } = splitTarget(request.url);
  const methods = routeMethods(path);
  if (!methods) return errorAnswer(404, 'not_found', `no route for ${path}`);
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  if (!methods.includes(method)) {
    return errorAnswer(405, 'method_not_allowed', `${request.method} is not allowed on ${path}`, { allow: methods.join(', ') });
  }
  if (!hasIdentityEncoding(request)) {
    const encoding = request.headers.get('content-encoding');
    return errorAnswer(415, 'unsupported_encoding', `Content-Encoding ${JSON.stringify(encoding)} is not supported: send the body uncompressed`, {
      'accept-encoding': 'identity',
    });
  }
  const write = method === 'POST';
  let body = new Uint8Array(0);
  if (write) {
    const limit = setting(env, 'BODY_LIMIT');
    body = await readBody(request, limit);
    if (body === undefined) return errorAnswer(413, 'body_too_large', `the request body is larger than ${limit} bytes; split the batch`);
  }
  const guestRequest = {
    method: request.method,
    path,
    query,
    contentType: write ? mediaType(request.headers.get('content-type')) : '',
    // Without authentication the node lets a request through with its route's first scope.
    principal: { kind: write ? 'gateway' : 'read', subject: '' },
    body,
  };
  const stub = env.AGGREGATOR.get(env.AGGREGATOR.idFromName(OBJECT_NAME));
  try {
    return await stub.handle(guestRequest);
  } catch (error) {
    // The object was reset or overloaded (the platform's errors); what it did not answer, it did not keep.
    console.error('the Durable Object failed', error);
    return errorAnswer(503, 'unavailable', 'the aggregator is unavailable: retry later; nothing of this request was stored', { 'retry-after': String(RETRY_AFTER_SECONDS) });
  }
}

/** The path (still percent-encoded) and the raw query of a request URL, as the node takes them from the request line. */
function splitTarget(url) {
  const afterScheme = url.indexOf('://');
  const slash = url.indexOf('/', afterScheme < 0 ? 0 : afterScheme + 3);
  const target = slash < 0 ? '/' : url.slice(slash);
  const hash = target.indexOf('#');
  const noHash = hash < 0 ? target : target.slice(0, hash);
  const q = noHash.indexOf('?');
  return q < 0 ? { path: noHash, query: '' } : { path: noHash.slice(0, q), query: noHash.slice(q + 1) };
}

/**
 * The methods the node's aggregator routes allow on `path`, or undefined when none matches: `POST
 * /v1/readings`, and `GET` on `/v1/regions`, `/v1/regions/{region}` and everything under it.
 */
function routeMethods(path) {
  const parts = path.split('/');
  if (parts[0] !== '' || parts[1] !== 'v1') return undefined;
  if (parts[2] === 'readings' && parts.length === 3) return ['POST'];
  if (parts[2] === 'regions') return ['GET'];
  return undefined;
}

/** True unless the request has a body in an encoding other than `identity` (as the node decides it). */
function hasIdentityEncoding(request) {
  const encoding = request.headers.get('content-encoding');
  if (encoding === null) return true;
  const declared = request.headers.get('content-length');
  const body = request.headers.has('transfer-encoding') || Number(declared ?? 0) > 0 || (declared === null && request.body !== null);
  if (!body) return true;
  return encoding.split(',').every((e) => e.trim().toLowerCase() === 'identity' || e.trim() === '');
}

/** The body, counted as it arrives (Content-Length can lie); undefined as soon as it passes `limit`. */
async function readBody(request, limit) {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let pos = 0;
  for (const chunk of chunks) {
    body.set(chunk, pos);
    pos += chunk.length;
  }
  return body;
}

/** The media type of a `Content-Type` header, lower case, without parameters; '' when absent. */
function mediaType(header) {
  if (!header) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}
