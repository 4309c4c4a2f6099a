// Key layout and name rules.
//
// Bucket keys put the time first, so that the rows written together (the current minute and hour of every
// region) are neighbours in the host's B-tree:
//   "m" + u32 BE minute since the epoch + region   one-minute bucket
//   "h" + u32 BE hour since the epoch + region     one-hour bucket
//   "t" + region                                   all-time total

import { ByteBuffer } from "../sdk";

export const MINUTE_MS: f64 = 60000;
export const HOUR_MS: f64 = 3600000;
/** Timestamps must be below this for their minute to fit a u32 (about year 10136). */
export const MAX_BUCKET_TIME: f64 = 4294967296.0 * 60000;

export const KIND_MINUTE: u32 = 0x6d; // "m"
export const KIND_HOUR: u32 = 0x68; // "h"
export const KIND_TOTAL: u32 = 0x74; // "t"

/** Writes a bucket key ("m"/"h" + u32 BE bucket + region). */
export function bucketKey(out: ByteBuffer, kind: u32, bucket: u32, regionPtr: usize, regionLen: i32): void {
  out.reset();
  out.byte(kind);
  out.u32be(bucket);
  out.bytes(regionPtr, regionLen);
}

/** Writes the all-time key of a region. */
export function totalKey(out: ByteBuffer, regionPtr: usize, regionLen: i32): void {
  out.reset();
  out.byte(KIND_TOTAL);
  out.bytes(regionPtr, regionLen);
}

// Bit 1: allowed in a region name; bit 2: allowed in a device id.
const NAME_CHARS: usize = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 0,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 0, 0, 0, 0, 0,
  0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 3,
  0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

function validName(ptr: usize, len: i32, maxLen: i32, bit: u8): bool {
  if (len < 1 || len > maxLen) return false;
  for (let i = 0; i < len; i++) {
    if ((load<u8>(NAME_CHARS + <usize>load<u8>(ptr + <usize>i)) & bit) == 0) return false;
  }
  return true;
}

/** 1-64 characters of [A-Za-z0-9._-]. */
export function validRegion(ptr: usize, len: i32): bool {
  return validName(ptr, len, 64, 1);
}

/** 1-128 characters of [A-Za-z0-9._:-]. */
export function validDevice(ptr: usize, len: i32): bool {
  return validName(ptr, len, 128, 2);
}
