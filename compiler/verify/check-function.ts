/**
 * The code check of one carried function: read back from its block on the paper image,
 * instruction for instruction against NEW: equal bytes outside reference fields, the same
 * decoding, fall-through between parts kept, every reference (and every entry of its own
 * jump tables) reaching what NEW's reaches, and the bytes no instruction covers copied as is.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction } from 'iced-x86';
import { ok, type Result } from '../../common/errors.ts';
import { accessesRipTarget } from '../disasm/memory-access.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { CarriedFunction, TargetChecker } from './check-target.ts';
import { mismatch, type PaperBlock, type PaperImage } from './paper-image.ts';

/** A carried function as the checks see it: its block and where each NEW RVA of it lies there. */
export interface CarriedView extends CarriedFunction {
  /** For messages: the function's name or entry. */
  readonly name: string;
  readonly block: PaperBlock;
  /** Offset of the function's entry in its block. */
  readonly base: number;
  /** Block offset of NEW `rva` inside the function, or -1. */
  offsetOf(rva: number): number;
}

/** What the code check counted. */
export interface CodeCounts {
  instructions: number;
  references: number;
}

/** Checks the code of carried function `c`, adding to `counts`. `insn` is a reusable decode buffer. */
export function checkFunctionCode(m: MatchResult, paper: PaperImage, checker: TargetChecker, c: CarriedView, insn: Instruction, counts: CodeCounts): Result<void> {
  const { fn, block, name } = c;
  const newImg = m.new.img;
  const covered = new Set<number>();
  const dec = new Decoder(64, block.bytes, DecoderOptions.None);
  try {
    for (const ni of fn.decoded.insns) {
      const o = c.offsetOf(ni.rva);
      const fields = new Set<number>();
      for (let k = ni.refIndex; k < ni.refIndex + ni.refCount; k++) {
        const r = fn.decoded.refs[k]!;
        for (let b = 0; b < r.size; b++) fields.add(r.fieldRva + b);
      }
      for (let b = 0; b < ni.length; b++) {
        covered.add(ni.rva + b);
        if (fields.has(ni.rva + b)) continue;
        if (block.bytes[o + b] !== newImg.image[ni.rva + b]) return mismatch(`${name}: byte ${b} of the instruction at +0x${(ni.rva - fn.entry).toString(16)} differs from NEW`);
      }
      dec.position = o;
      dec.ip = c.addr - BigInt(c.base) + BigInt(o);
      dec.decodeOut(insn);
      if (insn.code === Code.INVALID || insn.length !== ni.length) return mismatch(`${name}: instruction at +0x${(ni.rva - fn.entry).toString(16)} does not decode as in NEW`);
      counts.instructions++;
      // Falling off the end of a part into another part of the function (adjacent parts
      // in NEW) must land on that part in the block too.
      const next = ni.rva + ni.length;
      if (canFallThrough(ni.flow) && c.offsetOf(next) >= 0 && c.offsetOf(next) !== o + ni.length) {
        return mismatch(`${name}: the instruction at +0x${(ni.rva - fn.entry).toString(16)} falls through into another part, which the block does not place after it`);
      }
      const access = accessesRipTarget(insn);
      for (let k = ni.refIndex; k < ni.refIndex + ni.refCount; k++) {
        const r = checkReference(m, paper, checker, c, k, access);
        if (!r.ok) return r;
        counts.references++;
      }
    }
  } finally {
    dec.free();
  }
  // Bytes no instruction covers (padding, undecoded gaps) are copied as they are.
  for (const r of fn.ranges) for (let rva = r.start; rva < r.end; rva++) {
    if (!covered.has(rva) && block.bytes[c.offsetOf(rva)] !== newImg.image[rva]) return mismatch(`${name}: gap byte at +0x${(rva - fn.entry).toString(16)} differs from NEW`);
  }
  return ok(undefined);
}

/** Reference `k` of carried function `c`: the address its field holds reaches NEW's target. */
function checkReference(m: MatchResult, paper: PaperImage, checker: TargetChecker, c: CarriedView, k: number, access: boolean): Result<void> {
  const { fn, block, name } = c;
  const r = fn.decoded.refs[k]!;
  const fo = c.offsetOf(r.fieldRva);
  const dv = new DataView(block.bytes.buffer, block.bytes.byteOffset);
  const fieldAddr = block.addr + BigInt(fo);
  const insnEnd = fieldAddr + BigInt(r.insnEnd - r.fieldRva);
  let actual: bigint;
  if (r.kind === 'rel8') actual = insnEnd + BigInt(dv.getInt8(fo));
  else if (r.kind === 'rel32' || r.kind === 'riprel32') actual = insnEnd + BigInt(dv.getInt32(fo, true));
  else if (r.kind === 'abs64') actual = dv.getBigUint64(fo, true);
  // `[__ImageBase + ... + disp32]`: the disp32 is sign-extended and added to the load base.
  else if (r.kind === 'imagerel32') actual = paper.imageBase + BigInt(dv.getInt32(fo, true));
  else return mismatch(`${name}: ${r.kind} reference in a carried function`);
  const table = m.new.tables.get(r.target);
  // The instruction's load or store names the item at its target (only a riprel32 field is its memory operand).
  if (table === undefined || table.fn !== fn) return checker.check(r.target, actual, `${name} +0x${(r.insnRva - fn.entry).toString(16)} (${r.kind})`, access && r.kind === 'riprel32', r.isBranch);
  // The carried table, reached through the idiom's own field: each entry reaches the mapped
  // case, relative to the table (rel32, sign-extended) or to __ImageBase (rva32: `mov e32`
  // zero-extends, then `add r64, __ImageBase`).
  const rel = table.table.entryKind === 'rel32';
  if (rel !== (r.kind === 'riprel32') || !rel !== (r.kind === 'imagerel32')) return mismatch(`${name}: jump table at 0x${r.target.toString(16)} reached through a ${r.kind} field`);
  for (let e = 0; e < table.table.targets.length; e++) {
    const ea = actual + BigInt(4 * e);
    const raw = paper.readAt(ea, 4);
    if (raw === null) return mismatch(`${name}: jump table entry ${e} is outside the package`);
    const ev = new DataView(raw.buffer, raw.byteOffset);
    const entryTarget = rel ? actual + BigInt(ev.getInt32(0, true)) : paper.imageBase + BigInt(ev.getUint32(0, true));
    const rr = checker.check(table.table.targets[e]!, entryTarget, `${name} jump table entry ${e}`, false, true);
    if (!rr.ok) return rr;
  }
  return ok(undefined);
}

/** True when execution may continue at the next instruction (not a jmp, ret, ud2 or int3). */
function canFallThrough(flow: FlowControl): boolean {
  return flow !== FlowControl.UnconditionalBranch && flow !== FlowControl.IndirectBranch && flow !== FlowControl.Return && flow !== FlowControl.Exception && flow !== FlowControl.Interrupt;
}
