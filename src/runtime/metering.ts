/**
 * Fuel metering of one function body. The guest counts down a fuel global by the number of
 * instructions it runs, charged per straight-line run: at the function's entry and wherever control
 * can arrive from elsewhere (a loop header, the start of `if` and `else` arms, after each `end`), the
 * instructions up to the next such place are charged at once; short runs are charged with the first
 * run of their loop or function instead. A run left early by a branch is charged in full, so the count
 * errs high, never low. Bulk memory and table instructions are charged by their length operand as
 * well, since their cost grows with it.
 *
 * At loop headers, at the entry of functions that can call, and after each bulk charge the counter is
 * checked: below zero, the guest calls the host's refill import, which hands out more fuel from the
 * call's budget or stops the guest. Those are the only ways code runs unboundedly, so no check is far
 * from the counter crossing zero.
 */
import { ModuleLoadError } from './errors.js';
import { OP, decodeInstruction, isBulk, changesTables, type Instruction } from './instructions.js';
import { ByteReader, ByteWriter, VALTYPE, isValType } from './wasm-binary.js';

/** Fuel per unit of a bulk instruction's length: bytes or table entries, four to a unit. */
const BULK_SHIFT = 2;
/**
 * Runs of fewer instructions than this are charged with the first run of their region (the function
 * entry or the loop header they are in), as if they always ran: a quarter more fuel for the aggregator
 * than charging every run, and far fewer charges to run.
 */
const MERGE_BELOW = 16;
/**
 * What a loop iteration and a call cost beyond their instructions (the branch or the frame, and the
 * check). Without it a tight loop or a deep recursion would run several times longer per unit of fuel
 * than ordinary code; with it, an empty loop and `fib` run 10-15 million fuel a millisecond, like
 * the aggregator.
 */
const LOOP_FUEL = 8;
const CALL_FUEL = 32;

export interface MeterLayout {
  /** The mutable i32 global holding the fuel the guest may still use before asking for more. */
  fuelGlobal: number;
  /** The imported function `(overdraft: i32) -> i32` that refills the counter or stops the guest. */
  refillFunc: number;
  /** The guest's function index to the instrumented module's (the refill import shifts them). */
  shiftFunc: (index: number) => number;
}

export interface MeteredBody {
  body: Uint8Array;
  /** Whether the function changes tables or drops segments at run time. */
  changesTables: boolean;
}

/** Rewrites a function body (locals and code) of a function with `paramCount` parameters. */
export function meterBody(body: Uint8Array, paramCount: number, layout: MeterLayout): MeteredBody {
  const r = new ByteReader(body);
  const groups = r.u32();
  const groupsStart = r.pos;
  let locals = 0;
  for (let i = 0; i < groups; i++) {
    locals += r.u32();
    const t = r.u8();
    if (!isValType(t)) throw new ModuleLoadError('unsupported_feature', `local type 0x${t.toString(16)} is not allowed`);
  }
  const groupsEnd = r.pos;
  const code: Instruction[] = [];
  while (!r.done) code.push(decodeInstruction(r));

  // Pass 1: the weight of each straight-line run, in order, and what the function contains.
  const weights = [0];
  /** For each run, the first run of its region: the function's entry, or the loop header it is in. */
  const heads = [0];
  const regions = [0];
  const blocks: boolean[] = []; // for each open block, whether it is a loop
  let hasCall = false;
  let hasBulk = false;
  let tables = false;
  const last = code.length - 1;
  code.forEach((instr, i) => {
    if (!STRUCTURAL.has(instr.op)) weights[weights.length - 1]!++;
    if (instr.op === OP.call || instr.op === OP.callIndirect) hasCall = true;
    if (isBulk(instr)) hasBulk = true;
    if (changesTables(instr)) tables = true;
    if (instr.op === OP.block || instr.op === OP.if || instr.op === OP.loop) blocks.push(instr.op === OP.loop);
    if (instr.op === OP.end && blocks.pop()) regions.pop();
    if (startsRun(instr) && i !== last) {
      if (instr.op === OP.loop) regions.push(weights.length);
      heads.push(regions[regions.length - 1]!);
      weights.push(0);
    }
  });
  // A short run is charged with its region's first one instead, as if it always ran: fewer charges.
  for (let run = 1; run < weights.length; run++) {
    const head = heads[run]!;
    if (head !== run && weights[run]! < MERGE_BELOW) {
      weights[head]! += weights[run]!;
      weights[run] = 0;
    }
  }

  // Pass 2: the body again, with the charges.
  const scratch = paramCount + locals; // a local added for bulk instructions' length operand
  const out = new ByteWriter();
  if (hasBulk) out.u32(groups + 1).bytes(body.subarray(groupsStart, groupsEnd)).u32(1).u8(VALTYPE.i32);
  else out.bytes(body.subarray(0, groupsEnd));
  // A function without loops or calls runs each instruction at most once: charged, not checked.
  charge(out, layout, weights[0]! + CALL_FUEL, hasCall);
  let run = 0;
  code.forEach((instr, i) => {
    if (instr.func !== undefined) out.u8(instr.op).u32(layout.shiftFunc(instr.func));
    else {
      if (isBulk(instr)) chargeLength(out, layout, scratch);
      out.bytes(body.subarray(instr.start, instr.end));
    }
    if (startsRun(instr) && i !== last) {
      const weight = weights[++run]!;
      if (instr.op === OP.loop) charge(out, layout, weight + LOOP_FUEL, true);
      else if (weight > 0) charge(out, layout, weight, false);
    }
  });
  return { body: out.finish(), changesTables: tables };
}

/** Instructions that only mark structure: they compile to no work of their own. */
const STRUCTURAL = new Set<number>([OP.nop, OP.block, OP.loop, OP.else, OP.end]);

/** Whether control can arrive right after this instruction from somewhere other than the one before it. */
function startsRun(instr: Instruction): boolean {
  return instr.op === OP.loop || instr.op === OP.if || instr.op === OP.else || instr.op === OP.end;
}

/** `fuel -= weight`, then, if `check`, a refill when it went below zero. */
function charge(w: ByteWriter, layout: MeterLayout, weight: number, check: boolean): void {
  const g = layout.fuelGlobal;
  w.u8(OP.globalGet).u32(g).u8(OP.i32Const).s32(weight).u8(OP.i32Sub).u8(OP.globalSet).u32(g);
  if (check) refillIfNegative(w, layout);
}

/** `fuel -= length >>> BULK_SHIFT` for the length on top of the stack (left there), then a check. */
function chargeLength(w: ByteWriter, layout: MeterLayout, scratch: number): void {
  const g = layout.fuelGlobal;
  w.u8(OP.localTee).u32(scratch);
  w.u8(OP.globalGet).u32(g).u8(OP.localGet).u32(scratch).u8(OP.i32Const).s32(BULK_SHIFT).u8(OP.i32ShrU);
  w.u8(OP.i32Sub).u8(OP.globalSet).u32(g);
  refillIfNegative(w, layout);
}

function refillIfNegative(w: ByteWriter, layout: MeterLayout): void {
  const g = layout.fuelGlobal;
  w.u8(OP.globalGet).u32(g).u8(OP.i32Const).s32(0).u8(OP.i32LtS);
  w.u8(OP.if).u8(0x40).u8(OP.globalGet).u32(g).u8(OP.call).u32(layout.refillFunc).u8(OP.globalSet).u32(g).u8(OP.end);
}
