// Error responses: {"error":{"code":..., "message":...}} as application/json.

import { Response, AbiError } from "../sdk";

export function errorResponse(status: i32, code: string, message: string): Response {
  return Response.error(status, code, message);
}

export function notFound(message: string): Response {
  return Response.error(404, "not_found", message);
}

export function methodNotAllowed(allowed: string): Response {
  return Response.error(405, "method_not_allowed", "this path only supports " + allowed);
}

export function invalidQuery(message: string): Response {
  return Response.error(400, "invalid_query", message);
}

/**
 * The response for a host call that failed in a way the client cannot fix. UNAVAILABLE never gets here (the
 * SDK aborts the call, the host rolls it back and answers 503).
 */
export function hostFailure(code: i32, capability: string): Response {
  if (code == AbiError.DENIED) {
    return Response.error(500, "capability_denied",
      "the aggregator module was not granted the '" + capability + "' capability; grant it in the node's deploy configuration");
  }
  if (code == AbiError.QUOTA) return Response.error(503, "quota_exceeded", "the request needed more host calls than a call may make; send smaller batches");
  return Response.error(500, "internal_error", "a host call (" + capability + ") failed with code " + code.toString());
}
