/**
 * Parameters reordered where the callee's code cannot show it: two integer parameters swapped
 * (`ratio(num, den)` -> `ratio(den, num)`) read the same registers in the same roles, and the
 * new body is indistinguishable from a fix that swaps two operands. The module's own callers
 * tell: compiled against the new signature, a changed caller now passes the same values in
 * permuted registers. For entry-arguments.ts: a changed root whose matched call sites (the
 * k-th direct call to it in a changed caller's old body and the k-th in its new body) pass
 * known values (a constant, or a register the caller holds unchanged from its own entry) in
 * two argument registers swapped, with no site contradicting it, had its parameters reordered;
 * old callers outside the module pass the old order (sample entry-args-swap).
 *
 * What a register holds at a call is found on the straight line before it (back to the
 * previous branch, call or return, or the caller's entry): `mov r, imm` and `xor r, r` give a
 * constant, `mov r, r2` follows r2, reaching the caller's entry untouched gives its own
 * argument; any other write gives nothing known. A site where either value is unknown is no
 * evidence either way.
 *
 * A middle parameter removed (`mix3(a, b, c)` -> `mix3(a, c)`, sample entry-args-order) is the
 * same evidence shifted: the new body stops reading its last register (r8) and reads the others
 * in the same roles, and the changed callers now pass in rdx what they passed in r8
 * (`shiftedArguments`). An old caller outside the module passes b where the new body reads c.
 */
import { FlowControl, Mnemonic, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { functionAccessesOf } from './added-field.ts';
import { ARG_NAMES, roleInsnAlone } from './argument-roles.ts';
import { describeExtraSwap, siteExtras } from './site-arguments.ts';
import { describePointerSwap, swappedPointers } from './pointer-fields.ts';
import { decodeEach } from './register-effects.ts';
import { IMMEDIATE_KINDS } from '../disasm/operands.ts';

/** GPR numbers of rcx, rdx, r8, r9. */
const ARG_GPRS = [1, 2, 8, 9] as const;

/** One instruction as the backward scan needs it. */
interface ScanInsn {
  readonly rva: number;
  readonly next: number;
  readonly flow: FlowControl;
  readonly target: number;
  /** GPRs written. */
  readonly writes: number;
  /** `mov r, imm` / `xor r, r`: the written GPR and its constant, or `mov r, r2`: the source GPR. */
  readonly dst: number;
  readonly imm: bigint | null;
  readonly src: number;
}

function gprOf(r: Register): number {
  const full = RegisterExt.fullRegister(r);
  return full >= Register.RAX && full <= Register.R15 ? full - Register.RAX : -1;
}

function scanInsnOf(insn: Instruction, rva: number, length: number, flow: FlowControl): ScanInsn {
  const e = roleInsnAlone(insn, rva, length, flow);
  let dst = -1;
  let imm: bigint | null = null;
  let src = -1;
  const reg0 = insn.opCount >= 2 && insn.op0Kind === OpKind.Register ? gprOf(insn.op0Register) : -1;
  if (reg0 >= 0 && insn.mnemonic === Mnemonic.Mov) {
    const k = insn.op1Kind;
    if (k === OpKind.Register && gprOf(insn.op1Register) >= 0) [dst, src] = [reg0, gprOf(insn.op1Register)];
    else if (IMMEDIATE_KINDS.has(k) || k === OpKind.Immediate64) [dst, imm] = [reg0, BigInt.asIntN(32, BigInt(insn.immediate(1)))];
  } else if (reg0 >= 0 && insn.mnemonic === Mnemonic.Xor && insn.op1Kind === OpKind.Register && insn.op1Register === insn.op0Register) [dst, imm] = [reg0, 0n];
  return { rva, next: rva + length, flow, target: e.target, writes: e.writes, dst, imm, src };
}

/** What each argument register holds at each direct call from `caller` to `target`, in address order: `#imm`, `arg:N` (the caller's own entry register N), or null. */
export function callSiteArguments(image: Uint8Array, caller: FunctionInfo, target: number): Array<Array<string | null>> {
  const code: ScanInsn[] = [];
  decodeEach(image, caller.decoded.insns, (insn, d) => code.push(scanInsnOf(insn, d.rva, d.length, d.flow)));
  const out: Array<Array<string | null>> = [];
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (c.flow !== FlowControl.Call || c.target !== target) continue;
    out.push(ARG_GPRS.map((g) => valueBefore(code, i, g, caller.entry)));
  }
  return out;
}

/** What GPR `g` holds just before `code[i]`, on the straight line before it (at most 32 instructions back). */
function valueBefore(code: readonly ScanInsn[], i: number, g: number, entry: number): string | null {
  let reg = g;
  for (let k = i - 1; k >= 0; k--) {
    const p = code[k]!;
    if (i - k > 32 || p.next !== code[k + 1]!.rva || p.flow !== FlowControl.Next) return null;
    if ((p.writes & (1 << reg)) === 0) continue;
    if (p.dst !== reg) return null;
    if (p.imm !== null) return `#${p.imm}`;
    if (p.src < 0) return null;
    reg = p.src;
  }
  // Back at the first instruction, untouched since: the caller's own entry register.
  return code[0]?.rva === entry && (ARG_GPRS as readonly number[]).includes(reg) ? `arg:${reg}` : null;
}

/** Two argument registers (0..3) whose values the new call sites pass swapped, with an example, or null. */
export interface ArgumentSwap {
  readonly a: number;
  readonly b: number;
  /** The values the first old site passed in a and b. */
  readonly oldValues: readonly [string, string];
}

/** The swap the matched call sites show (old and new sites in order, equal counts), or null. */
export function swappedArguments(oldSites: ReadonlyArray<ReadonlyArray<string | null>>, newSites: ReadonlyArray<ReadonlyArray<string | null>>): ArgumentSwap | null {
  if (oldSites.length === 0 || oldSites.length !== newSites.length) return null;
  for (let a = 0; a < 4; a++) {
    for (let b = a + 1; b < 4; b++) {
      let evidence: ArgumentSwap | null = null;
      let contradicted = false;
      for (let s = 0; s < oldSites.length && !contradicted; s++) {
        const [oa, ob, na, nb] = [oldSites[s]![a], oldSites[s]![b], newSites[s]![a], newSites[s]![b]];
        if (oa == null || ob == null || na == null || nb == null || oa === ob) continue;
        if (na === ob && nb === oa) evidence ??= { a, b, oldValues: [oa, ob] };
        else contradicted = true;
      }
      if (evidence !== null && !contradicted) return evidence;
    }
  }
  return null;
}

/** Argument registers moved down one place from `from` to `last` (0..3): a parameter at `from` removed. */
export interface ArgumentShift {
  readonly from: number;
  readonly last: number;
  /** The values the first old site with evidence passed in from..last, and its new site in from..last-1. */
  readonly oldValues: readonly string[];
  readonly newValues: readonly string[];
}

/**
 * The shift the matched call sites show when the new body stops reading argument `last`
 * (0..3): a `from` below it where every site passes in each register from..last-1 what its
 * old site passed one register on, at least one site passes other values there than before,
 * and no site still passes in `last` the value its old site did. Null when none.
 */
export function shiftedArguments(oldSites: ReadonlyArray<ReadonlyArray<string | null>>, newSites: ReadonlyArray<ReadonlyArray<string | null>>, last: number): ArgumentShift | null {
  if (oldSites.length === 0 || oldSites.length !== newSites.length) return null;
  for (let from = 0; from < last; from++) {
    let evidence: ArgumentShift | null = null;
    let contradicted = false;
    for (let s = 0; s < oldSites.length && !contradicted; s++) {
      const [o, n] = [oldSites[s]!, newSites[s]!];
      if (o[last] != null && n[last] === o[last]) contradicted = true;
      let moved = false;
      let known = true;
      for (let a = from; a < last && !contradicted; a++) {
        const [was, now, next] = [o[a], n[a], o[a + 1]];
        if (now == null || next == null) {
          known = false;
          continue;
        }
        if (now !== next) contradicted = true;
        else if (was != null && was !== next) moved = true;
      }
      if (!contradicted && known && moved) evidence ??= { from, last, oldValues: o.slice(from, last + 1).map((v) => v ?? '?'), newValues: n.slice(from, last).map((v) => v ?? '?') };
    }
    if (evidence !== null && !contradicted) return evidence;
  }
  return null;
}

/** `stops reading r8, and its callers in the module now pass in rdx what they passed in r8 (old X passed 5, 7 in rdx, r8; its new body 7 in rdx: a parameter removed?)`. */
export function describeShift(s: ArgumentShift, caller: string): string {
  const regs = ARG_NAMES.slice(s.from, s.last + 1);
  const moved = regs.slice(0, -1).map((r, k) => `in ${r} what they passed in ${regs[k + 1]!}`).join(', ');
  return `stops reading ${regs[regs.length - 1]!}, and its callers in the module now pass ${moved} (old ${caller} passed ${s.oldValues.map(valueName).join(', ')} in ${regs.join(', ')}; its new body ${s.newValues.map(valueName).join(', ')} in ${regs.slice(0, -1).join(', ')}: a parameter removed?)`;
}

/** A value in words: `60`, `its own rdx`. */
function valueName(v: string): string {
  if (v === '?') return 'an unknown value';
  return v.startsWith('#') ? v.slice(1) : `its own ${ARG_NAMES[[1, 2, 8, 9].indexOf(Number(v.slice(4)))] ?? `r${v.slice(4)}`}`;
}

/** `reads rcx and rdx as its old body did, but its callers in the module now pass them swapped (old X passed 60, 7 there; its new body 7, 60: parameters reordered?)`. */
export function describeSwap(s: ArgumentSwap, caller: string): string {
  const [x, y] = s.oldValues.map(valueName);
  const [a, b] = [ARG_NAMES[s.a]!, ARG_NAMES[s.b]!];
  return `reads ${a} and ${b} as its old body did, but its callers in the module now pass them swapped (old ${caller} passed ${x}, ${y} there; its new body ${y}, ${x}: parameters reordered?)`;
}

/** rcx's bit in register-effects.ts masks (rdx, r8, r9 follow). */
const ARG_BIT = 1 << 1;

/**
 * How NEW `n` (old `o`'s counterpart) takes the same argument registers in another order, in
 * words, or null: two swapped or a parameter removed (`dropped`: the register-effects.ts
 * bits of the argument registers `o` read at entry and `n` no longer does), as the matched call
 * sites of `callers` ([old caller, its new body]) show, or two pointers whose fields moved to
 * each other (the bodies alone). entry-arguments.ts asks it for roots, quiescent-callers.ts for
 * each redirected caller of a redirected callee.
 */
export function reorderedArguments(oldImage: Uint8Array, newImage: Uint8Array, o: FunctionInfo, n: FunctionInfo, callers: ReadonlyArray<readonly [FunctionInfo, FunctionInfo]>, dropped: number): string | null {
  let last = -1;
  for (let a = 3; a > 0 && last < 0; a--) if ((dropped & (ARG_BIT << a)) !== 0) last = a;
  for (const [oc, nc] of callers) {
    const [os, ns] = [callSiteArguments(oldImage, oc, o.entry), callSiteArguments(newImage, nc, n.entry)];
    const s = swappedArguments(os, ns);
    if (s !== null) return describeSwap(s, oc.name ?? `0x${oc.entry.toString(16)}`);
    const t = last > 0 ? shiftedArguments(os, ns, last) : null;
    if (t !== null) return describeShift(t, oc.name ?? `0x${oc.entry.toString(16)}`);
    // Two float parameters swapped, or two stack arguments: the same evidence in xmm0-xmm3
    // and the slots of the fifth to eighth (site-arguments.ts).
    const [ox, nx] = [siteExtras(oldImage, oc, o.entry), siteExtras(newImage, nc, n.entry)];
    const f = swappedArguments(ox.xmm, nx.xmm);
    if (f !== null) return describeExtraSwap(f.a, f.b, f.oldValues, oc.name ?? `0x${oc.entry.toString(16)}`, false);
    const k = swappedArguments(ox.stack, nx.stack);
    if (k !== null) return describeExtraSwap(k.a, k.b, k.oldValues, oc.name ?? `0x${oc.entry.toString(16)}`, true);
  }
  const p = swappedPointers(functionAccessesOf(oldImage, o), functionAccessesOf(newImage, n));
  return p === null ? null : describePointerSwap(p);
}
