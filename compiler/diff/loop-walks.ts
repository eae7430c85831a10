/**
 * The loop forms loop-extent.ts's register back edge does not see, read as the same evidence
 * (an access through a pointer the function received, and how far a loop lets it reach):
 * - -O0 bodies (test/probes/red-tail.c): the index lives in a stack slot, reloaded before
 *   each access (`mov edx,[rbp-0x4]; movsxd rdx,edx; mov [rax+rdx*4+0x4],ecx`), and the loop
 *   compares the slot itself (`cmp DWORD PTR [rbp-0x4],0x1; jle` at gcc's back edge,
 *   `cmp DWORD PTR [rsp],0x2; jge exit` at clang's loop head). The pointer comes back from
 *   its spill slot through frame-slots.ts.
 * - A loop head's exit test (`cmp idx,imm; jcc past the back edge`; gcc -Os `add rax,0x4;
 *   cmp rax,0x44; je exit; add edx,[rcx+rax*1]; jmp head`).
 * - End-pointer loops (test/probes/red-tail-end.c, `for (p = o->arr; p != o->arr + N; p++)`):
 *   a pointer derived from an argument (`lea rax,[rcx+0x4]`, advanced by `add rax,0x4`, or
 *   kept in a slot at -O0) compared with another derived from the same argument
 *   (`add rcx,0x44` / `lea rdx,[rcx+0x44]`); that end is the reach.
 * A compare with a constant counts only in the direction of an upper bound: continuing the
 * loop while below it (jl/jle/jb/jbe/jne back) or leaving it at or above it (jge/jg/jae/ja/je
 * out). Each access also carries where its walk starts (the displacement plus the scaled
 * first value of its index: `mov DWORD PTR [slot],0`, `mov edx,0x4`; or the derived pointer's
 * first offset), so a body that folds the displacement into the index's start (clang -O1
 * `[rcx+rdx*1+0x4]` from 0 against `[rcx+rdx*1]` from 4) is the same walk.
 * - Loops counted to a register end (`lea end,[k+N]`, `cmp k,end`): loop-trips.ts gives the
 *   pointers they advance a reach from the trip count; at -O0 (counter, end and index in frame
 *   slots) loop-trip-slots.ts gives the index slots a bound.
 * Everything is read in address order (no paths): any mismatch gives no evidence, and the
 * evidence only adds refusals to loop-extent.ts's.
 */
import { ConditionCode, FlowControl, type Instruction, MemorySizeExt, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { ARG_REGISTERS, fullRegister, updateHolds } from './added-field.ts';
import { FOLLOW_ALL, FrameSlots, type SlotPolicy } from './frame-slots.ts';
import { differenceVar, SlotTrips } from './loop-trip-slots.ts';
import { type CounterAccess, type PointerAccess, TripCounts } from './loop-trips.ts';
import { decodeEach } from './register-effects.ts';
import { IMMEDIATE_KINDS, immediateOf, opKindOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** One loop walk over an argument's bytes: `disp + scale*bound + size` is how far it reaches. */
export interface LoopWalk {
  readonly arg: number;
  readonly scale: number;
  readonly disp: number;
  readonly size: number;
  readonly bound: number;
  /** The walk's first byte (displacement + scale x first index), or null when not known. */
  readonly start: number | null;
  /** Where the access is, for the reason text. */
  readonly rva: number;
}

/** A pointer some register or slot holds: argument `arg` plus `off` bytes; `v` names the loop variable. */
interface Derived {
  readonly arg: number;
  readonly off: number;
  readonly v: string;
}

const UPPER_BACK = new Set<number>([ConditionCode.l, ConditionCode.le, ConditionCode.b, ConditionCode.be, ConditionCode.ne]);
const UPPER_EXIT = new Set<number>([ConditionCode.ge, ConditionCode.g, ConditionCode.ae, ConditionCode.a, ConditionCode.e]);
const LOADS = new Set<number>([Mnemonic.Mov, Mnemonic.Movsxd, Mnemonic.Movsx, Mnemonic.Movzx]);

/** A body's backward branches [target, branch], then a test: is a jump from `j` to `t` (forward) out of a loop whose head is at or before `c`? */
function loopExits(image: Uint8Array, insns: FunctionInfo['decoded']['insns']): (c: number, j: number, t: number) => boolean {
  const back: Array<readonly [number, number]> = [];
  const lo = insns.reduce((m, d) => Math.min(m, d.rva), Number.POSITIVE_INFINITY);
  decodeEach(image, insns, (insn, d) => {
    const f = insn.flowControl;
    if ((f === FlowControl.ConditionalBranch || f === FlowControl.UnconditionalBranch) && insn.opCount > 0 && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32)) {
      const t = Number(insn.nearBranchTarget);
      if (t < d.rva && t >= lo) back.push([t, d.rva]);
    }
  });
  return (c, j, t) => back.some(([h, b]) => h <= c && j < b && b < t);
}

/** One body's scan state (in address order). */
class WalkScan {
  readonly holds = new Map<number, number>(ARG_REGISTERS);
  readonly frame: FrameSlots;
  /**
   * Full register -> the loop variable whose value it holds: a frame slot (`s<slot>`, an index
   * reloaded at -O0), or a counter slot less the slot it started from (loop-trip-slots.ts's
   * differenceVar, `o->arr[i - k]`).
   */
  private readonly fromSlot = new Map<number, string>();
  /** Full register -> a pointer derived from an argument. */
  private readonly ptrs = new Map<number, Derived>();
  /** Frame slot -> the derived pointer first stored there, and where. */
  private readonly slotPtrs = new Map<number, Derived>();
  private readonly slotPtrAt = new Map<number, number>();
  /** Loop variable -> its first constant value. */
  private readonly firsts = new Map<string, number>();
  /** Loop variable -> the greatest upper bound a loop compares it with. */
  readonly bounds = new Map<string, number>();
  readonly accesses: Array<{ arg: number; scale: number; disp: number; size: number; v: string; first: number | null; rva: number }> = [];
  /** Accesses through a loop pointer held in a register, for loop-trips.ts's counted loops. */
  readonly pointerAccesses: PointerAccess[] = [];
  /** Accesses indexed by a loop counter from a base that takes the counter's start off, for loop-trips.ts. */
  readonly counterAccesses: CounterAccess[] = [];
  /** Full register -> an argument pointer less a counter's start scaled (`lea rax,[rcx+r8*4]`, r8 the negated counter). */
  private readonly rebased = new Map<number, Omit<CounterAccess, 'size' | 'rva'>>();
  readonly trips = new TripCounts();
  /** -O0 loops counted through frame slots (loop-trip-slots.ts): bounds of the index slots. */
  readonly slotTrips = new SlotTrips();
  /** A pending compare: the variables it bounds and the bound, or a constant compare waiting for its jump's direction. */
  private cmp: { vars: string[]; bound: number; ip: number; constant: boolean } | null = null;

  constructor(policy: SlotPolicy, private readonly exits: (c: number, j: number, t: number) => boolean) {
    this.frame = new FrameSlots(policy);
  }

  step(insn: Instruction): void {
    const slot = insn.opCount > 0 ? this.frame.memoryAddress(insn) : undefined;
    this.trips.step(insn);
    this.slotTrips.step(insn, slot);
    this.branch(insn);
    this.compare(insn, slot);
    this.access(insn);
    this.track(insn, slot);
    updateHolds(insn, this.holds);
    this.frame.step(insn, this.holds);
  }

  /** The variables an index register stands for: itself, and the slot it was reloaded from. */
  private varsOf(r: number): string[] {
    const s = this.fromSlot.get(r);
    return s === undefined ? [`r${r}`] : [`r${r}`, s];
  }

  private derivedOf(r: Register): Derived | undefined {
    const full = fullRegister(r);
    if (full !== r) return undefined;
    const a = this.holds.get(full);
    return a !== undefined ? { arg: a, off: 0, v: `r${full}` } : this.ptrs.get(full);
  }

  /** A conditional jump after a pending compare: a loop's back edge or exit gives the bound. */
  private branch(insn: Instruction): void {
    const c = this.cmp;
    this.cmp = null;
    if (c === null || insn.flowControl !== FlowControl.ConditionalBranch) return;
    const t = Number(insn.nearBranchTarget);
    const ip = Number(insn.ip);
    const back = t < ip;
    if (!back && !this.exits(c.ip, ip, t)) return;
    if (c.constant && !(back ? UPPER_BACK : UPPER_EXIT).has(insn.conditionCode)) return;
    for (const v of c.vars) this.bounds.set(v, Math.max(this.bounds.get(v) ?? 0, c.bound));
  }

  private compare(insn: Instruction, slot: number | null | undefined): void {
    if (insn.mnemonic !== Mnemonic.Cmp || insn.opCount !== 2) return;
    const ip = Number(insn.ip);
    const k0 = insn.op0Kind;
    if (IMMEDIATE_KINDS.has(insn.op1Kind)) {
      const k = immediateOf(insn, 1);
      if (k <= 0) return;
      if (k0 === OpKind.Register) this.cmp = { vars: this.varsOf(fullRegister(insn.op0Register)), bound: k, ip, constant: true };
      else if (k0 === OpKind.Memory && typeof slot === 'number') this.cmp = { vars: [`s${slot}`], bound: k, ip, constant: true };
      return;
    }
    if (insn.op1Kind !== OpKind.Register) return;
    const b = this.derivedOf(insn.op1Register);
    let a: Derived | undefined;
    if (k0 === OpKind.Register) a = this.derivedOf(insn.op0Register);
    else if (k0 === OpKind.Memory && typeof slot === 'number' && MemorySizeExt.size(insn.memorySize) === 8) {
      const p = this.slotPtrs.get(slot);
      if (p !== undefined) a = { ...p, v: `s${slot}` };
    }
    if (a === undefined || b === undefined || a.arg !== b.arg) return;
    this.cmp = { vars: [a.v, b.v], bound: Math.max(a.off, b.off), ip, constant: false };
  }

  /** An access through an argument (its register or a derived pointer), indexed or through a loop pointer. */
  private access(insn: Instruction): void {
    if (insn.mnemonic === Mnemonic.Lea) return;
    for (let k = 0; k < insn.opCount; k++) {
      if (opKindOf(insn, k) !== OpKind.Memory) continue;
      const base = insn.memoryBase;
      const size = insn.memorySize === 0 ? 0 : MemorySizeExt.size(insn.memorySize);
      if (base === Register.None || base === Register.RIP || size === 0) return;
      const rb = this.rebased.get(fullRegister(base));
      if (rb !== undefined) {
        // Its offset is known only with the counter as its index.
        if (fullRegister(insn.memoryIndex) === rb.c && insn.memoryIndexScale === rb.scale && fullRegister(base) === base) this.counterAccesses.push({ ...rb, disp: rb.disp + Number(BigInt.asIntN(64, insn.memoryDisplacement)), size, rva: Number(insn.ip) });
        return;
      }
      const p = this.derivedOf(base);
      if (p === undefined) return;
      const disp = p.off + Number(BigInt.asIntN(64, insn.memoryDisplacement));
      const rva = Number(insn.ip);
      if (insn.memoryIndex !== Register.None) {
        const scale = insn.memoryIndexScale;
        for (const v of this.varsOf(fullRegister(insn.memoryIndex))) {
          const f = this.firsts.get(v);
          this.accesses.push({ arg: p.arg, scale, disp, size, v, first: f === undefined ? null : disp + scale * f, rva });
        }
      } else if (p.v.startsWith('s') || this.ptrs.has(fullRegister(base))) {
        // A loop pointer: its bound is an end offset from the argument, in bytes.
        const d = disp - p.off;
        this.accesses.push({ arg: p.arg, scale: 1, disp: d, size, v: p.v, first: disp, rva });
        if (this.ptrs.has(fullRegister(base))) this.pointerAccesses.push({ reg: fullRegister(base), arg: p.arg, off: p.off, disp: d, size, rva });
      }
      return;
    }
  }

  /** Follows slot reloads, first constants and derived pointers through `insn`'s writes. */
  private track(insn: Instruction, slot: number | null | undefined): void {
    const mn = insn.mnemonic;
    if (mn === Mnemonic.Call) {
      for (const r of VOLATILE_REGISTERS) {
        this.fromSlot.delete(r);
        this.ptrs.delete(r);
      }
      return;
    }
    if (insn.opCount === 0) return;
    if (insn.op0Kind === OpKind.Memory) return this.store(insn, slot);
    if (insn.op0Kind !== OpKind.Register || mn === Mnemonic.Cmp || mn === Mnemonic.Test || mn === Mnemonic.Push) return;
    const dst = fullRegister(insn.op0Register);
    this.rebase(insn, dst);
    const src = insn.opCount === 2 && insn.op1Kind === OpKind.Register ? fullRegister(insn.op1Register) : null;
    const held = this.fromSlot.get(dst);
    const diff = mn === Mnemonic.Sub && insn.op1Kind === OpKind.Memory && typeof slot === 'number' && held?.startsWith('s') === true && RegisterExt.size(insn.op0Register) === 4 ? differenceVar(Number(held.slice(1)), slot) : undefined;
    const fromSlot = diff !== undefined ? diff : LOADS.has(mn) && insn.op1Kind === OpKind.Memory && typeof slot === 'number' ? `s${slot}` : src !== null && LOADS.has(mn) ? this.fromSlot.get(src) : mn === Mnemonic.Cdqe && dst === Register.RAX ? this.fromSlot.get(Register.RAX) : undefined;
    const inPlace = (mn === Mnemonic.Add || mn === Mnemonic.Sub) && insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind);
    const ptr = this.pointerAfter(insn, dst, src, slot, inPlace);
    if (fromSlot === undefined) this.fromSlot.delete(dst);
    else this.fromSlot.set(dst, fromSlot);
    if (ptr === undefined) this.ptrs.delete(dst);
    else this.ptrs.set(dst, ptr);
    const v = `r${dst}`;
    if (mn === Mnemonic.Mov && IMMEDIATE_KINDS.has(insn.op1Kind)) this.firsts.set(v, immediateOf(insn, 1));
    else if (mn === Mnemonic.Xor && src === dst) this.firsts.set(v, 0);
    else if (!inPlace && mn !== Mnemonic.Inc) this.firsts.delete(v);
  }

  /** `lea d,[p + n*s + disp]`, p an argument pointer and n a negated loop counter: d is rebased; any other write forgets d. */
  private rebase(insn: Instruction, dst: number): void {
    const neg = insn.mnemonic === Mnemonic.Lea && insn.op0Register === dst && insn.memoryIndex !== Register.None ? this.trips.negatedCounter(fullRegister(insn.memoryIndex)) : undefined;
    const p = neg === undefined || insn.memoryBase === Register.None ? undefined : this.derivedOf(insn.memoryBase);
    if (neg === undefined || p === undefined) this.rebased.delete(dst);
    else this.rebased.set(dst, { base: dst, c: neg.c, from: neg.ip, arg: p.arg, scale: insn.memoryIndexScale, disp: p.off + Number(BigInt.asIntN(64, insn.memoryDisplacement)) });
  }

  /** The derived pointer `dst` holds after `insn` (undefined: none). */
  private pointerAfter(insn: Instruction, dst: number, src: number | null, slot: number | null | undefined, inPlace: boolean): Derived | undefined {
    const mn = insn.mnemonic;
    if (fullRegister(insn.op0Register) !== insn.op0Register) return undefined;
    if (inPlace) {
      const p = this.derivedOf(insn.op0Register);
      const by = immediateOf(insn, 1);
      return p === undefined ? undefined : { ...p, off: p.off + (mn === Mnemonic.Add ? by : -by) };
    }
    if (mn === Mnemonic.Lea && insn.memoryIndex === Register.None && insn.memoryBase !== Register.None) {
      const p = this.derivedOf(insn.memoryBase);
      const v = fullRegister(insn.memoryBase) === dst && p !== undefined ? p.v : `r${dst}`;
      return p === undefined ? undefined : { arg: p.arg, off: p.off + Number(BigInt.asIntN(64, insn.memoryDisplacement)), v };
    }
    if (mn !== Mnemonic.Mov) return undefined;
    if (src !== null && src === insn.op1Register) return this.ptrs.get(src);
    if (insn.op1Kind === OpKind.Memory && typeof slot === 'number' && MemorySizeExt.size(insn.memorySize) === 8) {
      const p = this.slotPtrs.get(slot);
      return p === undefined ? undefined : { ...p, v: `s${slot}` };
    }
    return undefined;
  }

  /** A store to a frame slot: its first constant, or the derived pointer first stored there. */
  private store(insn: Instruction, slot: number | null | undefined): void {
    if (typeof slot !== 'number' || insn.mnemonic !== Mnemonic.Mov || insn.opCount !== 2) return;
    const v = `s${slot}`;
    if (IMMEDIATE_KINDS.has(insn.op1Kind)) {
      if (!this.firsts.has(v)) this.firsts.set(v, immediateOf(insn, 1));
      return;
    }
    if (insn.op1Kind !== OpKind.Register || MemorySizeExt.size(insn.memorySize) !== 8 || this.slotPtrs.has(slot)) return;
    const p = this.derivedOf(insn.op1Register);
    if (p !== undefined && this.holds.get(fullRegister(insn.op1Register)) === undefined) {
      this.slotPtrs.set(slot, { arg: p.arg, off: p.off, v });
      this.slotPtrAt.set(slot, Number(insn.ip));
    }
  }

  /** The offset of the derived pointer first stored in `slot`, when that store is at `ip`. */
  pointerAt(slot: number, ip: number): number | undefined {
    return this.slotPtrAt.get(slot) === ip ? this.slotPtrs.get(slot)?.off : undefined;
  }
}

/** The loop walks of one body: accesses through argument-derived pointers whose variable a loop bounds. */
export function loopWalksOf(image: Uint8Array, insns: FunctionInfo['decoded']['insns']): LoopWalk[] {
  const exits = loopExits(image, insns);
  let sc = new WalkScan(FOLLOW_ALL, exits);
  decodeEach(image, insns, (insn) => sc.step(insn));
  const again = sc.frame.verdict();
  if (again !== null) {
    sc = new WalkScan(again, exits);
    decodeEach(image, insns, (insn) => sc.step(insn));
  }
  const s = sc;
  for (const [v, b] of s.slotTrips.bounds((slot, ip) => s.pointerAt(slot, ip), (slot) => s.frame.addressTaken(slot))) s.bounds.set(v, Math.max(s.bounds.get(v) ?? 0, b));
  const bounded = s.accesses.flatMap((x) => {
    const bound = s.bounds.get(x.v);
    // A bound at or below the walk's first byte bounds it from below (a loop counting down): no evidence.
    if (bound === undefined || (x.first !== null && x.disp + x.scale * bound + x.size <= x.first)) return [];
    return [{ arg: x.arg, scale: x.scale, disp: x.disp, size: x.size, bound, start: x.first, rva: x.rva }];
  });
  return [...bounded, ...s.trips.walks(s.pointerAccesses), ...s.trips.counterWalks(s.counterAccesses)];
}
