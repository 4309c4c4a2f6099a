// GET /v1/regions, /v1/regions/{region} and /v1/regions/{region}/series.

import {
  Request, Response, JsonWriter, ByteBuffer, QueryReader, VarintReader, kv, clock, AbiError, bytesEqualAscii,
  percentDecodeInto, parseUintBytes,
} from "../sdk";
import { Acc, Header, readHeader } from "./aggregate";
import { bucketKey, totalKey, KIND_MINUTE, KIND_HOUR, KIND_TOTAL, MINUTE_MS, HOUR_MS, validRegion } from "./keys";
import { invalidQuery, notFound, hostFailure } from "./errors";
import { encodeCursor, decodeCursor } from "./cursor";
import { loadListingCutoff } from "./settings";

// The first failed host call of this request (AbiError.NONE: none). Reads that fail count as absent and the
// route answers with hostFailure() at the end.
let failure: i32 = AbiError.NONE;
let failedCapability: string = "";

function fail(code: i32, capability: string): void {
  if (failure == AbiError.NONE) {
    failure = code;
    failedCapability = capability;
  }
}

const MAX_SAFE: f64 = 9007199254740991;
const MAX_SERIES_BUCKETS: f64 = 10000;

/** Reads values from kv into a reusable buffer. */
class Reader {
  key: ByteBuffer = new ByteBuffer(80);
  buf: ByteBuffer = new ByteBuffer(4096);

  /** Reads the value under the current key: its length, or -1 if absent. Aborts on other errors. */
  get(): i32 {
    const key = this.key;
    const buf = this.buf;
    let n = kv.getInto(key.ptr, key.len, buf.ptr, buf.cap);
    if (n > buf.cap) {
      buf.ensure(n);
      n = kv.getInto(key.ptr, key.len, buf.ptr, buf.cap);
    }
    if (n == AbiError.NOT_FOUND) return -1;
    if (n < 0 || n > buf.cap) {
      fail(n < 0 ? n : AbiError.INVALID, "kv");
      return -1;
    }
    return n;
  }

  /** Reads the value under the current key and merges it into `acc`; false if absent. */
  mergeInto(acc: Acc): bool {
    const n = this.get();
    if (n < 0) return false;
    // The record's device id stays referenced by acc: give it its own copy of the bytes.
    const copy = heap.alloc(<usize>n);
    memory.copy(copy, this.buf.ptr, <usize>n);
    acc.mergeRecord(copy, n);
    return true;
  }
}

/** Writes the R object of a region. */
/** The range a ranged read covered, after rounding outward to whole buckets; NaN: open on that side. */
class RangeUsed {
  constructor(
    public from: f64,
    public to: f64,
  ) {}
}

function writeRange(w: JsonWriter, range: RangeUsed): void {
  if (isNaN(range.from)) w.keyNull("from");
  else w.keyNumber("from", range.from);
  if (isNaN(range.to)) w.keyNull("to");
  else w.keyNumber("to", range.to);
}

/** `from` rounded down and `to` rounded up to multiples of `size`: any millisecond is accepted. */
function roundOutward(from: Param, to: Param, size: f64): RangeUsed {
  return new RangeUsed(from.present ? Math.floor(from.value / size) * size : NaN, to.present ? Math.ceil(to.value / size) * size : NaN);
}

function writeRegion(w: JsonWriter, regionPtr: usize, regionLen: i32, a: Acc, range: RangeUsed | null = null): void {
  w.beginObject();
  w.key("region");
  w.stringBytes(regionPtr, regionLen);
  if (range != null) writeRange(w, range!);
  w.keyUint("count", a.count);
  if (a.count == 0) {
    w.keyNumber("sum", 0);
    w.keyNull("mean");
    w.keyNull("min");
    w.keyNull("max");
    w.keyNull("last");
    w.keyNull("p50");
    w.keyNull("p90");
    w.keyNull("p99");
  } else {
    const sum = <f64>a.sum / 1e6;
    w.keyNumber("sum", sum);
    w.keyNumber("mean", sum / <f64>a.count);
    w.keyNumber("min", a.min);
    w.keyNumber("max", a.max);
    w.key("last");
    w.beginObject();
    w.key("device_id");
    w.stringBytes(a.lastDevPtr, a.lastDevLen);
    w.keyNumber("temperature_c", a.lastTemp);
    w.keyNumber("timestamp", <f64>a.lastTime);
    w.endObject();
    w.keyNumber("p50", a.quantile(0.5));
    w.keyNumber("p90", a.quantile(0.9));
    w.keyNumber("p99", a.quantile(0.99));
  }
  w.endObject();
}

export const DEFAULT_PAGE: i32 = 100;
export const MAX_PAGE: i32 = 1000;
// The largest kv_list entry of a "t" key: u16 length, "t", a 64-byte name.
const MAX_ENTRY: i32 = 67;

class PageQuery {
  limit: i32 = DEFAULT_PAGE;
  limitSeen: bool = false;
  /** The region the page starts after (empty: from the first). */
  after: ByteBuffer = new ByteBuffer(80);
  cursorSeen: bool = false;
  error: Response | null = null;
}

function parsePageQuery(req: Request): PageQuery {
  const q = new PageQuery();
  const it = new QueryReader(req.queryPtr, req.queryLen);
  const value = new ByteBuffer(128);
  while (it.next() && q.error == null) {
    const isLimit = bytesEqualAscii(it.namePtr, it.nameLen, "limit");
    if (!isLimit && !bytesEqualAscii(it.namePtr, it.nameLen, "cursor")) continue; // other parameters are ignored
    value.reset();
    value.ensure(it.valueLen + 1);
    percentDecodeInto(value, it.valuePtr, it.valueLen, true);
    if (isLimit) {
      const n = parseUintBytes(value.ptr, value.len);
      if (q.limitSeen) q.error = invalidQuery("limit is given more than once");
      else if (n < 1 || n > <i64>MAX_PAGE) q.error = invalidQuery("limit must be an integer from 1 to 1000");
      q.limitSeen = true;
      q.limit = <i32>n;
    } else {
      if (q.cursorSeen) {
        q.error = invalidQuery("cursor is given more than once");
      } else {
        const name = new ByteBuffer(value.len + 1);
        if (!decodeCursor(name, value.ptr, value.len) || !validRegion(name.ptr, name.len)) {
          q.error = Response.error(400, "invalid_cursor",
            "cursor is not one this node gave out; pass the next_cursor of the previous page unchanged, or none to start over");
        } else {
          q.after.reset();
          q.after.byte(KIND_TOTAL);
          q.after.bytes(name.ptr, name.len);
        }
      }
      q.cursorSeen = true;
    }
  }
  return q;
}

/**
 * GET /v1/regions[?limit=&cursor=]: one page of the regions' all-time aggregates, sorted by region name (byte
 * order), and the cursor of the next page (null after the last). A page reads only its own keys (kv_list from
 * the cursor), so it costs the same however many regions there are.
 */
export function listRegions(req: Request): Response {
  const q = parsePageQuery(req);
  if (q.error != null) return q.error!;
  const listing = loadListingCutoff();
  if (listing.error != null) return listing.error!;
  const limit = q.limit;
  const w = new JsonWriter(4096);
  w.beginObject();
  w.key("regions");
  w.beginArray();
  const rd = new Reader();
  const acc = new Acc();
  // One more entry than the page needs, to know whether a next page exists.
  const page = new ByteBuffer(max<i32>(514, MAX_ENTRY * (limit + 1)));
  const prefix = memory.data<u8>([0x74]); // "t"
  const after = q.after;
  let written: i32 = 0;
  let more = false;
  const last = new ByteBuffer(80);
  while (!more) {
    const n = kv.listInto(prefix, 1, after.ptr, after.len, page.ptr, page.cap);
    if (n < 0) return hostFailure(n, "kv");
    if (n == 0) break;
    let p = page.ptr;
    const end = page.ptr + <usize>n;
    while (p + 2 <= end) {
      const klen = <i32>load<u16>(p);
      const kptr = p + 2;
      p = kptr + <usize>klen;
      if (p > end) return hostFailure(AbiError.INVALID, "kv");
      after.reset();
      after.bytes(kptr, klen);
      if (klen < 2 || load<u8>(kptr) != <u8>KIND_TOTAL) continue;
      rd.key.reset();
      rd.key.bytes(kptr, klen);
      const len = rd.get();
      if (len < 0) continue;
      acc.reset();
      // acc refers to the record in rd.buf until the next read: no copy, so a page allocates nothing per region.
      acc.mergeRecord(rd.buf.ptr, len);
      // Nothing of it is retained any more: out of the listing (its total is still read by name).
      if (<f64>acc.lastTime < listing.cutoff) continue;
      // One listed region past the page: there is a next page (it starts after the last one written).
      if (written == limit) {
        more = true;
        break;
      }
      writeRegion(w, kptr + 1, klen - 1, acc);
      last.reset();
      last.bytes(kptr + 1, klen - 1);
      written++;
    }
  }
  if (failure != AbiError.NONE) return hostFailure(failure, failedCapability);
  w.endArray();
  if (more) {
    const cursor = new ByteBuffer(96);
    encodeCursor(cursor, last.ptr, last.len);
    w.key("next_cursor");
    w.stringBytes(cursor.ptr, cursor.len);
  } else {
    w.keyNull("next_cursor");
  }
  w.endObject();
  return Response.json(200, w);
}

/** A parsed integer query parameter. */
class Param {
  present: bool = false;
  value: f64 = 0;
  error: string = "";
}

/** Parses the value of query parameter `name`: a non-negative integer below 2^53. */
function parseParam(valuePtr: usize, valueLen: i32, name: string, out: Param): void {
  if (out.present) {
    out.error = name + " is given more than once";
    return;
  }
  out.present = true;
  const buf = new ByteBuffer(valueLen + 1);
  percentDecodeInto(buf, valuePtr, valueLen, true);
  const n = buf.len;
  if (n == 0 || n > 16) {
    out.error = name + " must be an integer number of milliseconds since the Unix epoch";
    return;
  }
  let x: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i32>load<u8>(buf.ptr + <usize>i) - 0x30;
    if (d < 0 || d > 9) {
      out.error = name + " must be an integer number of milliseconds since the Unix epoch";
      return;
    }
    x = x * 10 + <f64>d;
  }
  if (x > MAX_SAFE) {
    out.error = name + " must be at most 9007199254740991";
    return;
  }
  out.value = x;
}

class RangeQuery {
  from: Param = new Param();
  to: Param = new Param();
  bucket: i32 = 0; // 0 absent, 1 minute, 2 hour, -1 invalid
  bucketSeen: bool = false;
  error: string = "";
}

function parseQuery(req: Request, withBucket: bool): RangeQuery {
  const q = new RangeQuery();
  const it = new QueryReader(req.queryPtr, req.queryLen);
  while (it.next()) {
    if (bytesEqualAscii(it.namePtr, it.nameLen, "from")) {
      parseParam(it.valuePtr, it.valueLen, "from", q.from);
    } else if (bytesEqualAscii(it.namePtr, it.nameLen, "to")) {
      parseParam(it.valuePtr, it.valueLen, "to", q.to);
    } else if (withBucket && bytesEqualAscii(it.namePtr, it.nameLen, "bucket")) {
      if (q.bucketSeen) {
        q.error = "bucket is given more than once";
      }
      q.bucketSeen = true;
      if (bytesEqualAscii(it.valuePtr, it.valueLen, "1m")) q.bucket = 1;
      else if (bytesEqualAscii(it.valuePtr, it.valueLen, "1h")) q.bucket = 2;
      else q.bucket = -1;
    }
    // Other parameters are ignored.
  }
  if (q.error.length == 0) {
    if (q.from.error.length > 0) q.error = q.from.error;
    else if (q.to.error.length > 0) q.error = q.to.error;
  }
  return q;
}

/** Reads a region's all-time record into `acc`; false if the region is unknown. */
function loadTotal(rd: Reader, regionPtr: usize, regionLen: i32, acc: Acc): bool {
  totalKey(rd.key, regionPtr, regionLen);
  return rd.mergeInto(acc);
}

/** Merges the buckets of `kind` in [b0, b1) of a region into acc. */
function mergeBuckets(rd: Reader, kind: u32, b0: f64, b1: f64, regionPtr: usize, regionLen: i32, acc: Acc): void {
  for (let b = b0; b < b1; b++) {
    bucketKey(rd.key, kind, <u32>b, regionPtr, regionLen);
    rd.mergeInto(acc);
  }
}

/** GET /v1/regions/{region}[?from=&to=] */
export function getRegion(req: Request, regionPtr: usize, regionLen: i32): Response {
  const q = parseQuery(req, false);
  if (q.error.length > 0) return invalidQuery(q.error);
  const from = q.from;
  const to = q.to;
  if (from.present && to.present && from.value > to.value) return invalidQuery("from must not be after to");
  const range = roundOutward(from, to, MINUTE_MS);
  if (!validRegion(regionPtr, regionLen)) return notFound("no such region");
  const rd = new Reader();
  const total = new Acc();
  if (!loadTotal(rd, regionPtr, regionLen, total)) {
    return failure != AbiError.NONE ? hostFailure(failure, failedCapability) : notFound("no such region");
  }
  const w = new JsonWriter(512);
  if (!from.present && !to.present) {
    writeRegion(w, regionPtr, regionLen, total);
    return Response.json(200, w);
  }
  // Minutes [m0, m1) asked for, intersected with the minutes that hold data.
  let m0 = from.present ? range.from / MINUTE_MS : 0;
  let m1 = to.present ? range.to / MINUTE_MS : Infinity;
  const first = Math.floor(<f64>total.firstTime / MINUTE_MS);
  const last = Math.floor(<f64>total.lastTime / MINUTE_MS) + 1;
  const acc = new Acc();
  if (m0 <= first && m1 >= last) {
    acc.mergeAcc(total);
  } else {
    if (m0 < first) m0 = first;
    if (m1 > last) m1 = last;
    if (m0 < m1) {
      // Whole hours from the hour buckets, the minutes at the edges from the minute buckets.
      const h0 = Math.ceil(m0 / 60);
      const h1 = Math.floor(m1 / 60);
      if (h0 < h1) {
        mergeBuckets(rd, KIND_MINUTE, m0, h0 * 60, regionPtr, regionLen, acc);
        mergeBuckets(rd, KIND_HOUR, h0, h1, regionPtr, regionLen, acc);
        mergeBuckets(rd, KIND_MINUTE, h1 * 60, m1, regionPtr, regionLen, acc);
      } else {
        mergeBuckets(rd, KIND_MINUTE, m0, m1, regionPtr, regionLen, acc);
      }
    }
  }
  if (failure != AbiError.NONE) return hostFailure(failure, failedCapability);
  writeRegion(w, regionPtr, regionLen, acc, range);
  return Response.json(200, w);
}

/** GET /v1/regions/{region}/series?bucket=1m|1h[&from=&to=] */
export function getSeries(req: Request, regionPtr: usize, regionLen: i32): Response {
  const q = parseQuery(req, true);
  if (q.error.length > 0) return invalidQuery(q.error);
  if (q.bucket == 0) return invalidQuery("bucket is required: 1m or 1h");
  if (q.bucket < 0) return invalidQuery("bucket must be 1m or 1h");
  const size = q.bucket == 1 ? MINUTE_MS : HOUR_MS;
  const from = q.from;
  const to = q.to;
  const asked = roundOutward(from, to, size);
  let end: f64;
  if (to.present) {
    end = asked.to;
  } else {
    const now = clock.nowMs();
    if (now < 0) return hostFailure(<i32>now, "clock");
    end = (Math.floor(now / size) + 1) * size; // the end of the current bucket
  }
  let start: f64;
  if (from.present) {
    start = asked.from;
  } else {
    start = end - (q.bucket == 1 ? 60 : 24) * size;
    if (start < 0) start = 0;
  }
  if (start > end) return invalidQuery("from must not be after to");
  if ((end - start) / size > MAX_SERIES_BUCKETS) {
    return Response.error(400, "range_too_large", "a series holds at most 10000 buckets; narrow from/to or use a larger bucket");
  }
  if (!validRegion(regionPtr, regionLen)) return notFound("no such region");
  const rd = new Reader();
  const total = new Acc();
  if (!loadTotal(rd, regionPtr, regionLen, total)) {
    return failure != AbiError.NONE ? hostFailure(failure, failedCapability) : notFound("no such region");
  }
  const w = new JsonWriter(4096);
  w.beginObject();
  w.key("region");
  w.stringBytes(regionPtr, regionLen);
  w.keyString("bucket", q.bucket == 1 ? "1m" : "1h");
  writeRange(w, new RangeUsed(start, end));
  w.key("buckets");
  w.beginArray();
  // Only buckets that can hold data: those between the region's first and last reading.
  let b0 = start / size;
  let b1 = end / size;
  const first = Math.floor(<f64>total.firstTime / size);
  const last = Math.floor(<f64>total.lastTime / size) + 1;
  if (b0 < first) b0 = first;
  if (b1 > last) b1 = last;
  const kind = q.bucket == 1 ? KIND_MINUTE : KIND_HOUR;
  for (let b = b0; b < b1; b++) {
    bucketKey(rd.key, kind, <u32>b, regionPtr, regionLen);
    const n = rd.get();
    if (n < 0) continue;
    const h: Header = readHeader(new VarintReader(rd.buf.ptr, n));
    const sum = <f64>h.sum / 1e6;
    w.beginObject();
    w.keyNumber("start", b * size);
    w.keyUint("count", h.count);
    w.keyNumber("sum", sum);
    w.keyNumber("mean", sum / <f64>h.count);
    w.keyNumber("min", h.min);
    w.keyNumber("max", h.max);
    w.endObject();
  }
  if (failure != AbiError.NONE) return hostFailure(failure, failedCapability);
  w.endArray();
  w.endObject();
  return Response.json(200, w);
}
