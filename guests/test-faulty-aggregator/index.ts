// A deliberately faulty version of the aggregator, for the deployment tests (never built into
// build/guests): it answers reads as the aggregator does and traps on every write of readings, as a bad
// release would. The tests sign it as a new version of the `aggregator` app and deploy it as a canary.

import { Request, Method } from "../sdk";
import { ea_on_http as aggregatorHttp, ea_on_events as aggregatorEvents } from "../aggregator/index";

export { ea_alloc } from "../sdk";

export function ea_on_http(ptr: i32, len: i32): i32 {
  if (Request.read(ptr, len).method == Method.POST) unreachable();
  return aggregatorHttp(ptr, len);
}

export function ea_on_events(ptr: i32, len: i32): i32 {
  return aggregatorEvents(ptr, len);
}
