// The edge-aggregator guest SDK (AssemblyScript), for guest ABI v1 (docs/abi.md).
//
// A guest's entry file re-exports `ea_alloc` and defines its triggers:
//
//   import { Request, Response, kv } from "../sdk";
//   export { ea_alloc } from "../sdk";
//
//   export function ea_on_http(ptr: i32, len: i32): i32 {
//     const req = Request.read(ptr, len);
//     return Response.text(200, "hello").frame();
//   }
//
// Build with scripts/build-guests.mjs (stub runtime, one initial page, a memory maximum).

export { ea_alloc, ABI_VERSION, AbiError, Limits, lastError, setTrapOnUnavailable } from "./abi";
export { kv, events, log, clock, config, metrics, AppendResult } from "./host";
export { Request, Response, Method, Principal, QueryReader, percentDecode, percentDecodeInto } from "./http";
export { Event, EventReader, readEvents } from "./events";
export {
  ByteBuffer, VarintReader, zigzag, unzigzag, bytesEqualAscii, bytesStartWithAscii, compareBytes, utf8Bytes, utf8String,
  parseUint, parseUintBytes,
} from "./bytes";
export { JsonWriter, writeStringUtf8, writeStringUtf16 } from "./json/writer";
export { JsonReader, Token, JSON_MAX_DEPTH, isValidUtf8, wtf8ToString, utf8SequenceLength } from "./json/reader";
export { JsonValue, JsonType } from "./json/value";
export { NumberScan, scanNumber, scanToF64, parseNumber, formatNumber, formatInteger, formatUnsigned } from "./json/number";
// The abort handler the build selects with `--use abort=guests/sdk/abort/guestAbort` (must be part of the program).
export { guestAbort } from "./abort";
