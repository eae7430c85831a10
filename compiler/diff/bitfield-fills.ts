/**
 * Fields filled or emptied by a lone in-place immediate of several bits (issue #14):
 * `g_word.kind = 7` is `or byte [rip+g_word],0x7`, `f->level = 31` is `or byte [rcx],0xf8`: no
 * `and`, no read into a register, so bitfield-layout.ts saw no bit-field store (a lone `or`
 * is not one), and its one-bit flag sequence takes only one-bit immediates. Two fields swapped
 * (probe global-bitfield-fill: v1 kind bits 0-2, level 3-7; v2 level 0-4, kind 5-7) move the
 * immediates, 0x7 -> 0xe0 and 0xf8 -> 0x1f, and the patched process decoded the word old fill
 * set with the new layout (gcc -O0..-Os, clang -O1..-Os called both functions hotpatchable).
 * Kept apart from the one-bit flags (adding them to that sequence would change its length,
 * which that rule requires equal), compared the same way: the same word, the same number of
 * such stores in the same or/and pattern, some with another immediate. `and [m],0` (a zero
 * store) and `or [m],-1` (an all-ones store) are whole-word values, no field.
 */
import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { lowBits, memoryBits } from './bitfield-bits.ts';
import { fullRegister } from './added-field.ts';
import { decodeEach } from './register-effects.ts';
import { IMMEDIATE_KINDS } from '../disasm/operands.ts';


/** One lone in-place fill: `set` (an `or`) or `clear` (an `and`), and the bits it sets or clears. */
export interface Fill {
  readonly op: 'set' | 'clear';
  readonly bits: bigint;
}

/** Where a memory operand points (bitfield-layout.ts' WordOf, which imports this file). */
type WordAt = (insn: Instruction) => { key: string; disp: number } | null;

/** A register loaded from a word, and the one or/and immediate applied to it so far. */
interface Loaded {
  readonly key: string;
  readonly disp: number;
  readonly op: { readonly mn: number; readonly imm: bigint } | null;
}

/**
 * Per displacement (words keyed by `word`), the fills of several bits, in address order: an
 * in-place `or`/`and` immediate store, or the same through a register, a load, one `or`/`and`
 * immediate and a store back into the word it was loaded from (gcc -O0's `movzx edx,byte
 * [rax]; or edx,0x7; mov [rax],dl`, probes bitfield-fill and global-bitfield-fill, which
 * were hotpatchable at gcc -O0). A register given anything else in between is no fill (a
 * bit-field store's `and` then `or` is bitfield-layout.ts' read-modify-write).
 */
export function scanFills(image: Uint8Array, f: FunctionInfo, word: WordAt): Map<number, Fill[]> {
  const out = new Map<number, Fill[]>();
  const regs = new Map<number, Loaded>();
  const record = (disp: number, mn: number, width: number, imm: bigint): void => {
    const v = BigInt.asUintN(width, imm);
    const bits = mn === Mnemonic.Or ? v : lowBits(width) & ~v;
    // One bit: bitfield-layout.ts' flags; none or all: a whole-word value.
    if ((bits & (bits - 1n)) === 0n || bits === lowBits(width)) return;
    out.set(disp, [...(out.get(disp) ?? []), { op: mn === Mnemonic.Or ? 'set' : 'clear', bits }]);
  };
  decodeEach(image, f.decoded.insns, (insn) => {
    const mn = insn.mnemonic;
    const bitOp = (mn === Mnemonic.Or || mn === Mnemonic.And) && insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind);
    const mem = insn.opCount > 0 && insn.op0Kind === OpKind.Memory;
    if (bitOp && mem) {
      const st = word(insn);
      const width = memoryBits(insn);
      if (st !== null && st.disp >= 0 && width !== 0) record(st.disp, mn, width, insn.immediate(1));
      return;
    }
    if (mem && mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register) {
      const r = fullRegister(insn.op1Register);
      const l = regs.get(r);
      const st = word(insn);
      const width = memoryBits(insn);
      if (l !== undefined && l.op !== null && st !== null && st.key === l.key && st.disp >= 0 && width !== 0) record(st.disp, l.op.mn, width, l.op.imm);
      regs.delete(r);
      return;
    }
    if (insn.mnemonic === Mnemonic.Call) regs.clear();
    if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register) return;
    const r = fullRegister(insn.op0Register);
    const l = regs.get(r);
    regs.delete(r);
    if (bitOp && l !== undefined && l.op === null) regs.set(r, { ...l, op: { mn, imm: insn.immediate(1) } });
    else if ((mn === Mnemonic.Mov || mn === Mnemonic.Movzx) && insn.op1Kind === OpKind.Memory) {
      const at = word(insn);
      if (at !== null) regs.set(r, { key: at.key, disp: at.disp, op: null });
    }
  });
  return out;
}

/** A word whose fills moved: the fills that differ, as `fill set 0x7`, and the bits either side's differing fills touch. */
export interface MovedFill {
  readonly disp: number;
  readonly onlyOld: readonly string[];
  readonly onlyNew: readonly string[];
  readonly bits: bigint;
}

/** Words both bodies fill with as many lone in-place stores in the same or/and pattern, some with other bits. */
export function movedFills(o: Map<number, Fill[]>, n: Map<number, Fill[]>): MovedFill[] {
  const out: MovedFill[] = [];
  const text = (x: Fill): string => `fill ${x.op} 0x${x.bits.toString(16)}`;
  for (const disp of [...o.keys()].sort((a, b) => a - b)) {
    const of = o.get(disp)!;
    const nf = n.get(disp);
    if (nf === undefined || nf.length !== of.length || of.some((x, k) => x.op !== nf[k]!.op)) continue;
    const moved = of.map((x, k) => [x, nf[k]!] as const).filter(([a, b]) => a.bits !== b.bits);
    if (moved.length === 0) continue;
    const bits = moved.reduce((acc, [a, b]) => acc | a.bits | b.bits, 0n);
    out.push({ disp, onlyOld: moved.map(([a]) => text(a)), onlyNew: moved.map(([, b]) => text(b)), bits });
  }
  return out;
}
