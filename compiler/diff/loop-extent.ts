/**
 * A trailing array grown where only a loop bound changes (test/probes/red-tail.c at clang -O1:
 * `for (i = 0; i < N; i++) o->arr[i]`, N 2 -> 4): every access is the same indexed operand
 * `[rcx + rdx*4 + 0x4]` in both bodies, so no offset is new (added-field.ts) and no width
 * changed (field-retype.ts); only the immediate the index is compared with grows (`cmp rdx, 1`
 * -> `cmp rdx, 4`). Objects old code allocated are the old size: the new loop reads and writes
 * past them (the importer's adjacent objects sum 112 and 143 instead of 1 and 21 live).
 *
 * Evidence, per body: indexed accesses through a pointer the function received (an argument
 * register or a 64-bit copy, as added-field.ts follows them) `[arg + idx*scale + disp]`, and
 * the largest immediate a loop's back edge (`cmp idx, imm` then a conditional jump to a lower
 * address) compares that index register with (a compare of a loaded byte with a constant in a
 * register once used as an index is no bound: libvips, swc-html). The extent such
 * an access reaches is `disp + scale*bound + size`; counted the same way on both sides, an
 * access at the same argument, scale and displacement whose new extent exceeds the old one
 * reaches bytes old objects may not have. An index bounded by a register, or counted down,
 * gives no bound and no evidence. -O0 bodies (index and pointer in stack slots), a loop
 * head's exit test and end-pointer loops (`lea end, [base + K]`) are read by loop-walks.ts,
 * whose evidence is checked after this one's and only adds refusals.
 */
import { FlowControl, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { ARG_REGISTERS, fullRegister, updateHolds } from './added-field.ts';
import { reason, type Reason } from './reasons.ts';
import { loopWalksOf } from './loop-walks.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';
import { immediateOf, opKindOf } from '../disasm/operands.ts';

/** Not IMMEDIATE_KINDS: without the 16-bit forms, so a `cmp r16, imm` is no loop bound. */
const IMMEDIATES = new Set<number>([OpKind.Immediate8, OpKind.Immediate32, OpKind.Immediate8to32, OpKind.Immediate8to64, OpKind.Immediate32to64]);

/** An indexed access through an argument, and how far its index is compared to reach. */
interface LoopAccess {
  readonly arg: number;
  readonly scale: number;
  readonly disp: number;
  readonly size: number;
  readonly bound: number;
}

/** Indexed argument accesses of a body whose index register some `cmp reg, imm` bounds. */
function loopAccessesOf(image: Uint8Array, insns: FunctionInfo['decoded']['insns']): LoopAccess[] {
  const holds = new Map<number, number>(ARG_REGISTERS);
  const raw: Array<{ arg: number; index: number; scale: number; disp: number; size: number }> = [];
  const bounds = new Map<number, number>();
  let cmp: [number, number] | null = null;
  decodeEach(image, insns, (insn) => {
    // A loop's back edge: `cmp idx, imm` then a conditional jump to a lower address.
    if (cmp !== null && insn.flowControl === FlowControl.ConditionalBranch && insn.nearBranchTarget < insn.ip) bounds.set(cmp[0], Math.max(bounds.get(cmp[0]) ?? 0, cmp[1]));
    cmp = null;
    if (insn.mnemonic === Mnemonic.Cmp && insn.op0Kind === OpKind.Register && IMMEDIATES.has(insn.op1Kind)) {
      const k = immediateOf(insn, 1);
      if (k > 0) cmp = [fullRegister(insn.op0Register), k];
    }
    for (let k = 0; k < insn.opCount; k++) {
      if (opKindOf(insn, k) !== OpKind.Memory || insn.mnemonic === Mnemonic.Lea) continue;
      const arg = holds.get(insn.memoryBase);
      const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
      if (arg !== undefined && insn.memoryIndex !== Register.None && disp >= 0) raw.push({ arg, index: fullRegister(insn.memoryIndex), scale: insn.memoryIndexScale, disp, size: MemorySizeExt.size(insn.memorySize) });
      break;
    }
    updateHolds(insn, holds);
  });
  return raw.flatMap((x) => {
    const bound = bounds.get(x.index);
    return bound === undefined || x.size === 0 ? [] : [{ arg: x.arg, scale: x.scale, disp: x.disp, size: x.size, bound }];
  });
}

const extent = (x: LoopAccess): number => x.disp + x.scale * x.bound + x.size;

/**
 * The first new access that reaches further than every old access `same` pairs it with, with
 * the old extent and bound it exceeds (null: none). Both evidence forms (this module's register
 * back edges, loop-walks.ts's walks) are compared by it; only what pairs two accesses differs.
 */
function firstGrown<T extends LoopAccess>(olds: readonly T[], news: readonly T[], same: (x: T, y: T) => boolean): { y: T; was: number; bound: number } | null {
  for (const y of news) {
    const paired = olds.filter((x) => same(x, y));
    if (paired.length === 0) continue;
    const was = Math.max(...paired.map(extent));
    if (extent(y) > was) return { y, was, bound: Math.max(...paired.map((x) => x.bound)) };
  }
  return null;
}

/** Why changed `f` reaches further through an argument's array than its old body (a loop bound grown), or null. */
export function loopExtentProblem(m: MatchResult, f: FunctionInfo, st: FunctionStatus, funclet = false): Reason | null {
  const o = m.fnNewToOld[f.index]!;
  if (st !== 'changed' || o < 0 || funclet) return null;
  const of = m.old.fns.functions[o]!;
  const olds = loopAccessesOf(m.old.img.image, of.decoded.insns);
  const g = olds.length === 0 ? null : firstGrown(olds, loopAccessesOf(m.new.img.image, f.decoded.insns), (x, y) => x.arg === y.arg && x.scale === y.scale && x.disp === y.disp && x.size === y.size);
  if (g !== null) {
    const { y, was, bound } = g;
    const at = `[arg${y.arg}+idx*${y.scale}+${hex(y.disp)}]`;
    return reason('STRUCTURE_FIELD_ADDED', `structure layout changed: the loop over ${at} (${y.size} bytes) compares its index with ${y.bound}, where the old function's compared with ${bound}: its bound reaches +${hex(extent(y))} on that pointer (displacement + scale x bound + size), the old one +${hex(was)} (a trailing array grown; objects built before the patch are the old size): old ${of.name ?? hex(of.entry)}, new ${f.name ?? hex(f.entry)}; needs a baseline`, f.entry);
  }
  return walkExtentProblem(m, of, f);
}

/** The same question over loop-walks.ts's forms (-O0 slots, loop-head exits, end pointers). */
function walkExtentProblem(m: MatchResult, of: FunctionInfo, f: FunctionInfo): Reason | null {
  const olds = loopWalksOf(m.old.img.image, of.decoded.insns);
  const g = olds.length === 0 ? null : firstGrown(olds, loopWalksOf(m.new.img.image, f.decoded.insns), (x, y) => x.arg === y.arg && x.scale === y.scale && x.size === y.size && (x.start !== null && y.start !== null ? x.start === y.start : x.disp === y.disp));
  if (g === null) return null;
  const { y, was, bound } = g;
  const at = `[arg${y.arg}+${y.scale === 1 ? 'i' : `i*${y.scale}`}+${hex(y.disp)}] at ${hex(y.rva)}`;
  return reason('STRUCTURE_FIELD_ADDED', `structure layout changed: the loop over ${at} (${y.size} bytes${y.start === null ? '' : `, from +${hex(y.start)}`}) is bounded by ${y.bound}, where the old function's was bounded by ${bound}: it reaches +${hex(extent(y))} on that pointer (displacement + scale x bound + size), the old one +${hex(was)} (a trailing array grown; objects built before the patch are the old size): old ${of.name ?? hex(of.entry)}, new ${f.name ?? hex(f.entry)}; needs a baseline`, f.entry);
}
