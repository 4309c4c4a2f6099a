// The cursor of GET /v1/regions: base64url (no padding) of the last region name of the page before. Clients
// treat it as opaque, so the encoding may change without breaking them.

import { ByteBuffer } from "../sdk";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Writes the cursor of a region name. */
export function encodeCursor(out: ByteBuffer, ptr: usize, len: i32): void {
  out.reset();
  let i = 0;
  while (i + 3 <= len) {
    const v = (<u32>load<u8>(ptr + <usize>i) << 16) | (<u32>load<u8>(ptr + <usize>i + 1) << 8) | <u32>load<u8>(ptr + <usize>i + 2);
    out.byte(<u32>ALPHABET.charCodeAt(v >> 18));
    out.byte(<u32>ALPHABET.charCodeAt((v >> 12) & 63));
    out.byte(<u32>ALPHABET.charCodeAt((v >> 6) & 63));
    out.byte(<u32>ALPHABET.charCodeAt(v & 63));
    i += 3;
  }
  const rest = len - i;
  if (rest == 1) {
    const v = <u32>load<u8>(ptr + <usize>i) << 16;
    out.byte(<u32>ALPHABET.charCodeAt(v >> 18));
    out.byte(<u32>ALPHABET.charCodeAt((v >> 12) & 63));
  } else if (rest == 2) {
    const v = (<u32>load<u8>(ptr + <usize>i) << 16) | (<u32>load<u8>(ptr + <usize>i + 1) << 8);
    out.byte(<u32>ALPHABET.charCodeAt(v >> 18));
    out.byte(<u32>ALPHABET.charCodeAt((v >> 12) & 63));
    out.byte(<u32>ALPHABET.charCodeAt((v >> 6) & 63));
  }
}

function sextet(c: u32): i32 {
  if (c >= 0x41 && c <= 0x5a) return <i32>(c - 0x41);
  if (c >= 0x61 && c <= 0x7a) return <i32>(c - 0x61 + 26);
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30 + 52);
  if (c == 0x2d) return 62;
  if (c == 0x5f) return 63;
  return -1;
}

/** Decodes a cursor into `out`; false if it is not base64url (without padding). */
export function decodeCursor(out: ByteBuffer, ptr: usize, len: i32): bool {
  out.reset();
  if (len % 4 == 1) return false;
  let acc: u32 = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const s = sextet(<u32>load<u8>(ptr + <usize>i));
    if (s < 0) return false;
    acc = (acc << 6) | <u32>s;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.byte((acc >> <u32>bits) & 0xff);
    }
  }
  // The unused low bits must be zero, so every name has exactly one cursor.
  return (acc & ((<u32>1 << <u32>bits) - 1)) == 0;
}
