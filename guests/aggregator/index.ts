// The sensor aggregation service: validates and stores readings (ea_on_http) and folds them into per-region
// aggregates (ea_on_events). API: docs/api.md. Guest ABI: docs/abi.md.

import { Request, Response, Method, ByteBuffer, percentDecodeInto } from "../sdk";
import { postReadings } from "./readings";
import { listRegions, getRegion, getSeries } from "./query";
import { onEvents } from "./fold";
import { notFound, methodNotAllowed } from "./errors";

export { ea_alloc } from "../sdk";

export function ea_on_http(ptr: i32, len: i32): i32 {
  return route(Request.read(ptr, len)).frame();
}

export function ea_on_events(ptr: i32, len: i32): i32 {
  return onEvents(ptr, len);
}

function isRead(req: Request): bool {
  return req.method == Method.GET || req.method == Method.HEAD;
}

function route(req: Request): Response {
  if (req.pathIs("/v1/readings")) {
    if (req.method != Method.POST) return methodNotAllowed("POST");
    return postReadings(req);
  }
  if (req.pathIs("/v1/regions")) {
    if (!isRead(req)) return methodNotAllowed("GET");
    return listRegions(req);
  }
  if (req.pathStartsWith("/v1/regions/")) {
    const prefix = 12;
    const restPtr = req.pathPtr + prefix;
    const restLen = req.pathLen - prefix;
    // {region} or {region}/series
    let slash = -1;
    for (let i = 0; i < restLen; i++) {
      if (load<u8>(restPtr + <usize>i) == 0x2f) {
        slash = i;
        break;
      }
    }
    const segLen = slash < 0 ? restLen : slash;
    const region = new ByteBuffer(segLen + 1);
    percentDecodeInto(region, restPtr, segLen, false);
    if (slash < 0) {
      if (!isRead(req)) return methodNotAllowed("GET");
      return getRegion(req, region.ptr, region.len);
    }
    const tailPtr = restPtr + <usize>slash;
    const tailLen = restLen - slash;
    if (tailLen == 7 && memory.compare(tailPtr, changetype<usize>(SERIES), 7) == 0) {
      if (!isRead(req)) return methodNotAllowed("GET");
      return getSeries(req, region.ptr, region.len);
    }
  }
  return notFound("no such resource; see the API reference (docs/api.md)");
}

// "/series"
const SERIES: usize = memory.data<u8>([0x2f, 0x73, 0x65, 0x72, 0x69, 0x65, 0x73]);
