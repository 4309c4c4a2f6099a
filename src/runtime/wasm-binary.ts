/**
 * Minimal reading and writing of the WebAssembly binary format: LEB128 integers, vectors, names.
 * Just what the loader's validator and instrumenter need; see the core spec, section 5 "Binary Format".
 */

const NAME_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class WasmFormatError extends Error {
  override name = 'WasmFormatError';
}

export class ByteReader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of module');
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of module');
    return this.bytes[this.pos]!;
  }

  /** Unsigned LEB128 up to 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) {
        if (shift > 35) throw new WasmFormatError('u32 LEB128 too long');
      }
    }
    if (result > 0xffffffff) throw new WasmFormatError('u32 LEB128 out of range');
    return result;
  }

  /** Skips a signed LEB128 of at most `bits` bits (values are copied, never interpreted). */
  skipSigned(bits: number): void {
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      if ((this.u8() & 0x80) === 0) return;
    }
    throw new WasmFormatError(`signed LEB128 longer than ${bits} bits`);
  }

  /** Signed LEB128 up to 33 bits (block types). */
  s33(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 35 + 7) throw new WasmFormatError('s33 LEB128 too long');
    } while (byte & 0x80);
    if (byte & 0x40) result -= 2 ** shift;
    return result;
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw new WasmFormatError('unexpected end of module');
    this.pos += n;
  }

  bytesOf(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new WasmFormatError('unexpected end of module');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A name as text. A leading U+FEFF is part of the name, not a byte-order mark to strip. */
  name(): string {
    return NAME_DECODER.decode(this.nameBytes());
  }

  /** A name's bytes (without its length), for copying it unchanged. */
  nameBytes(): Uint8Array {
    return this.bytesOf(this.u32());
  }
}

/** Growable byte buffer for re-encoding a module. */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(byte: number): this {
    this.ensure(1);
    this.buf[this.length++] = byte;
    return this;
  }

  u32(value: number): this {
    do {
      let byte = value & 0x7f;
      value = Math.floor(value / 128);
      if (value !== 0) byte |= 0x80;
      this.u8(byte);
    } while (value !== 0);
    return this;
  }

  s32(value: number): this {
    for (;;) {
      const byte = value & 0x7f;
      value >>= 7;
      const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
      this.u8(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
    return this;
  }

  name(text: string): this {
    const data = new TextEncoder().encode(text);
    return this.u32(data.length).bytes(data);
  }

  /** Writes `content` prefixed by its byte length, as sections and function bodies are. */
  sized(content: Uint8Array): this {
    return this.u32(content.length).bytes(content);
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

export const VALTYPE = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
} as const;

const VALTYPES = new Set<number>(Object.values(VALTYPE));

export function isValType(byte: number): boolean {
  return VALTYPES.has(byte);
}
