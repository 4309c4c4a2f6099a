/**
 * Decoding of single instructions (the core spec, section 5.4 "Instructions"): enough to copy each
 * one, renumber the functions it names and refuse the features that could escape the host's limits.
 */
import { ModuleLoadError } from './errors.js';
import { ByteReader, VALTYPE, isValType } from './wasm-binary.js';

export const OP = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  localGet: 0x20,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Const: 0x41,
  i32LtS: 0x48,
  i32Sub: 0x6b,
  i32ShrU: 0x76,
  refFunc: 0xd2,
  prefixFc: 0xfc,
} as const;

/** The 0xfc instructions that take a length (bytes or table entries) as their last operand. */
const BULK = new Set([8, 10, 11, 12, 14, 15, 17]); // memory.init/copy/fill, table.init/copy/grow/fill
/** The 0xfc instructions that change tables or drop segments: state `__ea_reset` cannot restore. */
const CHANGES_TABLES = new Set([8, 9, 12, 13, 14, 15, 17]);

export interface Instruction {
  op: number;
  /** The sub-opcode of a prefixed (0xfc, 0xfd) instruction; -1 otherwise. */
  sub: number;
  /** Where the instruction starts and ends in the reader's bytes. */
  start: number;
  end: number;
  /** The function a `call` or `ref.func` names. */
  func?: number;
}

function fail(detail: string): never {
  throw new ModuleLoadError('unsupported_feature', detail);
}

/** Decodes the instruction at `r.pos` and moves past it. */
export function decodeInstruction(r: ByteReader): Instruction {
  const start = r.pos;
  const op = r.u8();
  let sub = -1;
  let func: number | undefined;
  switch (op) {
    case OP.block: case OP.loop: case OP.if:
      blockType(r);
      break;
    case OP.call: case OP.refFunc:
      func = r.u32();
      break;
    case OP.callIndirect:
      r.u32();
      r.u32();
      break;
    case OP.prefixFc:
      sub = skipFc(r);
      break;
    case 0xfd:
      sub = skipSimd(r);
      break;
    default:
      skipImmediates(op, r);
  }
  return { op, sub, start, end: r.pos, func };
}

/** Whether the instruction takes a length operand that its cost grows with (bulk memory and tables). */
export function isBulk(instr: Instruction): boolean {
  return instr.op === OP.prefixFc && BULK.has(instr.sub);
}

/** Whether the instruction changes a table or drops a segment. */
export function changesTables(instr: Instruction): boolean {
  return instr.op === 0x26 || (instr.op === OP.prefixFc && CHANGES_TABLES.has(instr.sub));
}

function blockType(r: ByteReader): void {
  const b = r.peek();
  if (b === 0x40 || isValType(b)) r.u8();
  else r.s33();
}

function skipImmediates(op: number, r: ByteReader): void {
  if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b) return;
  if (op >= 0x45 && op <= 0xc4) return; // numeric, incl. sign extension
  switch (op) {
    case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19: case 0x1f:
      fail('exception handling is not allowed (a guest could catch the host stopping it)');
      break;
    case 0x12: case 0x13: case 0x14: case 0x15:
      fail('tail calls and typed function references are not allowed');
      break;
    case 0x0c: case 0x0d: // br, br_if
      r.u32();
      return;
    case 0x0e: { // br_table
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      return;
    }
    case 0x1c: { // select t*
      const n = r.u32();
      r.skip(n);
      return;
    }
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: // local.*, global.*
    case 0x25: case 0x26: // table.get, table.set
    case 0x3f: case 0x40: // memory.size, memory.grow
      r.u32();
      return;
    case 0x41: r.skipSigned(32); return;
    case 0x42: r.skipSigned(64); return;
    case 0x43: r.skip(4); return;
    case 0x44: r.skip(8); return;
    case 0xd0: { // ref.null heaptype
      const t = r.peek();
      if (t === VALTYPE.funcref || t === VALTYPE.externref) r.u8();
      else fail('typed references are not allowed');
      return;
    }
    case 0xd1: return; // ref.is_null
    case 0xfe: fail('threads and atomics are not allowed'); break;
    case 0xfb: fail('GC instructions are not allowed'); break;
    default:
      if (op >= 0x28 && op <= 0x3e) {
        memarg(r);
        return;
      }
      fail(`instruction 0x${op.toString(16)} is not supported`);
  }
}

function memarg(r: ByteReader): void {
  const align = r.u32();
  if (align & 0x40) fail('multiple memories are not allowed');
  r.u32();
}

function skipFc(r: ByteReader): number {
  const sub = r.u32();
  if (sub <= 7) return sub; // saturating truncation
  switch (sub) {
    case 8: case 10: case 12: case 14: // memory.init, memory.copy, table.init, table.copy
      r.u32();
      r.u32();
      return sub;
    case 9: case 11: case 13: case 15: case 16: case 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
      r.u32();
      return sub;
    default: return fail(`instruction 0xfc ${sub} is not supported`);
  }
}

function skipSimd(r: ByteReader): number {
  const sub = r.u32();
  if (sub <= 11 || sub === 92 || sub === 93) memarg(r); // loads, stores
  else if (sub === 12 || sub === 13) r.skip(16); // v128.const, i8x16.shuffle
  else if (sub >= 21 && sub <= 34) r.skip(1); // extract/replace lane
  else if (sub >= 84 && sub <= 91) {
    memarg(r);
    r.skip(1);
  } else if (sub > 0x113) fail(`SIMD instruction ${sub} is not supported`); // the rest take no immediates
  return sub;
}
