/**
 * loop-trips.ts's trip count at -O0, where the counter, its end and the index live in frame
 * slots (test/probes/red-trip-index.c, `for (i = 0, j = k; j != k + N; j++, i++) o->arr[i] = j;`):
 *   mov [rbp+0x18],edx; mov [rbp-0x4],0; mov eax,[rbp+0x18]; mov [rbp-0x8],eax   (i = 0, j = k)
 *   head: mov edx,[rbp-0x4]; movsxd rdx,edx; mov [rax+rdx*4+0x4],ecx; add [rbp-0x8],1; add [rbp-0x4],1
 *   mov eax,[rbp+0x18]; add eax,0x18; cmp [rbp-0x8],eax; jne head                  (gcc, back edge)
 * clang tests at the head instead (`mov eax,[C]; mov ecx,[A]; add ecx,0x18; cmp eax,ecx; je
 * exit`) and steps each slot through a register (`mov eax,[C]; add eax,1; mov [C],eax`).
 * The counter slot C is a copy of slot A made before the loop, A is not written after that
 * copy, C is written in the loop only by constant adds (s a pass), so the compare with A + K
 * (`jne`/`jl`/`jb` back, `je`/`jge`/`jae` out) lets the loop run K/s times (a jne or je whose
 * K is no multiple of s gives no evidence). An index slot set to a constant i0 before the loop
 * and stepped by constants t only in it then reaches i0 + (trips - 1) x t: loop-walks.ts's
 * bound for that slot, read as a constant bound is. A pointer slot set once before the loop
 * (loop-walks.ts's derived pointer, `o->arr`) and stepped in it (`mov rax,[P]; lea rdx,[rax+4];
 * mov [P],rdx`; clang `mov rdx,rax; add rdx,4`) reaches its first offset + (trips - 1) x t
 * (test/probes/red-trip-ptr.c).
 * The counter may start from a global instead of a slot (test/probes/red-trip-global.c,
 * `mov eax,[g_base]; mov [C],eax`, the end `mov eax,[g_base]; add eax,0x18`): the body must
 * store to that global nowhere directly. `jle`/`jbe` back or `jg`/`ja` out let the counter
 * reach its end: K/s + 1 passes. The counter less the slot it was copied from (`mov eax,[C];
 * sub eax,[A]`, the index of `o->arr[i - k]`, test/probes/red-trip-base.c) is 0 at the first
 * pass: loop-walks.ts reads it as a variable (differenceVar) bounded by (trips - 1) x s.
 * Evidence is checked once the body is read (in address order, no paths): a write to a slot
 * the scan does not model, or a store whose frame offset is unknown, gives no evidence.
 */
import { ConditionCode, FlowControl, type Instruction, MemorySizeExt, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { fullRegister } from './added-field.ts';
import { TRIP_BACK, tripsOf } from './loop-trips.ts';
import { IMMEDIATE_KINDS, immediateOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** A write to a frame slot: a constant add in place, a copy of another slot, a constant, or anything else. */
type SlotWrite = { readonly ip: number } & ({ readonly kind: 'add'; readonly k: number } | { readonly kind: 'copy'; readonly from: Source } | { readonly kind: 'const'; readonly k: number } | { readonly kind: 'other' });

/** Where a value was loaded from: a frame slot (`s<offset>`) or a global (`g<address>`). */
type Source = `s${number}` | `g${number}`;

/** A value a register holds: source `src` (`size` bytes) plus a constant. */
interface Held {
  readonly src: Source;
  readonly add: number;
  readonly size: number;
}

/** A compare of counter slot `c` with source `a` plus `k`, and the jump after it. */
interface Candidate {
  readonly c: number;
  readonly a: Source;
  readonly k: number;
  readonly counterFirst: boolean;
  readonly cmp: number;
  readonly jump: number;
  readonly target: number;
  readonly cond: number;
}

const OUT = new Set<number>([ConditionCode.e, ConditionCode.ge, ConditionCode.ae]);
/** Tests that let the counter reach its end (`jle`/`jbe` back, `jg`/`ja` out): one pass more. */
const INCLUSIVE = new Set<number>([ConditionCode.le, ConditionCode.be, ConditionCode.g, ConditionCode.a]);
const INCLUSIVE_BACK = new Set<number>([ConditionCode.le, ConditionCode.be]);

/** loop-walks.ts's name for counter slot `c` less slot `a` (gcc -O0 `mov eax,[C]; sub eax,[A]`, the index of `o->arr[i - k]`). */
export function differenceVar(c: number, a: number): string {
  return `d${c}:${a}`;
}

/** Slot writes, slot-valued registers and counter compares of one body, stepped in address order. */
export class SlotTrips {
  private readonly writes = new Map<number, SlotWrite[]>();
  /** Full register -> the slot or global value it holds plus a constant. */
  private readonly regs = new Map<number, Held>();
  /** Global address -> where the body stores to it directly. */
  private readonly globalWrites = new Map<number, number[]>();
  private readonly candidates: Candidate[] = [];
  private readonly backEdges: Array<readonly [number, number]> = [];
  private pending: Omit<Candidate, 'jump' | 'target' | 'cond'> | null = null;
  private unknownStore = false;

  /** Call for every instruction with its frame slot (frame-slots.ts's memoryAddress, before the frame steps). */
  step(insn: Instruction, slot: number | null | undefined): void {
    this.branch(insn);
    this.compare(insn, slot);
    const ip = Number(insn.ip);
    if (insn.mnemonic === Mnemonic.Call) {
      for (const r of VOLATILE_REGISTERS) this.regs.delete(r);
      return;
    }
    if (insn.opCount === 0 || insn.mnemonic === Mnemonic.Cmp || insn.mnemonic === Mnemonic.Test || insn.mnemonic === Mnemonic.Push) return;
    if (insn.op0Kind === OpKind.Memory) {
      if (insn.memoryBase === Register.RIP) {
        const g = Number(insn.memoryDisplacement);
        this.globalWrites.set(g, [...(this.globalWrites.get(g) ?? []), ip]);
      }
      if (slot === null) this.unknownStore = true;
      else if (slot !== undefined) this.record(slot, { ip, ...this.slotWrite(insn, slot) });
      return;
    }
    if (insn.op0Kind !== OpKind.Register) return;
    const dst = fullRegister(insn.op0Register);
    const had = this.regs.get(dst);
    this.regs.delete(dst);
    const v = this.valueAfter(insn, slot, had);
    if (v !== undefined) this.regs.set(dst, v);
  }

  /** The slot or global value a register holds after `insn` writes it: a load, a copy, a lea or a constant add of one. */
  private valueAfter(insn: Instruction, slot: number | null | undefined, had: Held | undefined): Held | undefined {
    const mn = insn.mnemonic;
    const size = RegisterExt.size(insn.op0Register);
    const load = mn === Mnemonic.Mov && insn.op1Kind === OpKind.Memory && MemorySizeExt.size(insn.memorySize) === size && size >= 4;
    if (load && typeof slot === 'number') return { src: `s${slot}`, add: 0, size };
    // A counter may start from a global (`i = g_base`): its value, as the frame slot's.
    if (load && insn.memoryBase === Register.RIP) return { src: `g${Number(insn.memoryDisplacement)}`, add: 0, size };
    if (mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register) {
      const r = this.regs.get(fullRegister(insn.op1Register));
      return r !== undefined && r.size === size && RegisterExt.size(insn.op1Register) === size ? r : undefined;
    }
    if (mn === Mnemonic.Lea && insn.memoryIndex === Register.None && insn.memoryBase !== Register.None && size === 8) {
      const r = this.regs.get(fullRegister(insn.memoryBase));
      return r !== undefined && r.size === 8 && insn.memoryBase === fullRegister(insn.memoryBase) ? { ...r, add: r.add + Number(BigInt.asIntN(64, insn.memoryDisplacement)) } : undefined;
    }
    if (had !== undefined && had.size === size && (mn === Mnemonic.Add || mn === Mnemonic.Sub) && IMMEDIATE_KINDS.has(insn.op1Kind)) return { ...had, add: had.add + (mn === Mnemonic.Add ? immediateOf(insn, 1) : -immediateOf(insn, 1)) };
    return undefined;
  }

  private slotWrite(insn: Instruction, slot: number): { kind: 'add'; k: number } | { kind: 'copy'; from: Source } | { kind: 'const'; k: number } | { kind: 'other' } {
    const mn = insn.mnemonic;
    if (mn === Mnemonic.Inc) return { kind: 'add', k: 1 };
    if (mn === Mnemonic.Dec) return { kind: 'add', k: -1 };
    const hasImm = insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind);
    if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && hasImm) return { kind: 'add', k: mn === Mnemonic.Add ? immediateOf(insn, 1) : -immediateOf(insn, 1) };
    const size = MemorySizeExt.size(insn.memorySize);
    if (mn !== Mnemonic.Mov || insn.opCount !== 2 || (size !== 4 && size !== 8)) return { kind: 'other' };
    if (hasImm) return { kind: 'const', k: immediateOf(insn, 1) };
    const r = insn.op1Kind === OpKind.Register ? this.regs.get(fullRegister(insn.op1Register)) : undefined;
    if (r === undefined || r.size !== size) return { kind: 'other' };
    if (r.src === `s${slot}`) return { kind: 'add', k: r.add };
    return r.add === 0 ? { kind: 'copy', from: r.src } : { kind: 'other' };
  }

  private record(slot: number, w: SlotWrite): void {
    const ws = this.writes.get(slot);
    if (ws === undefined) this.writes.set(slot, [w]);
    else ws.push(w);
  }

  /** `cmp [C],r` or `cmp r,r` where one side is a counter slot and the other another slot or a global plus a positive constant. */
  private compare(insn: Instruction, slot: number | null | undefined): void {
    if (insn.mnemonic !== Mnemonic.Cmp || insn.opCount !== 2 || insn.op1Kind !== OpKind.Register) return;
    const b = this.regs.get(fullRegister(insn.op1Register));
    const a: Held | undefined = insn.op0Kind === OpKind.Register ? this.regs.get(fullRegister(insn.op0Register)) : insn.op0Kind === OpKind.Memory && typeof slot === 'number' ? { src: `s${slot}`, add: 0, size: MemorySizeExt.size(insn.memorySize) } : undefined;
    if (a === undefined || b === undefined || a.src === b.src || a.size !== 4 || b.size !== 4) return;
    const cmp = Number(insn.ip);
    if (a.add === 0 && b.add > 0 && a.src.startsWith('s')) this.pending = { c: Number(a.src.slice(1)), a: b.src, k: b.add, counterFirst: true, cmp };
    else if (b.add === 0 && a.add > 0 && b.src.startsWith('s')) this.pending = { c: Number(b.src.slice(1)), a: a.src, k: a.add, counterFirst: false, cmp };
  }

  private branch(insn: Instruction): void {
    const f = insn.flowControl;
    const ip = Number(insn.ip);
    if ((f === FlowControl.ConditionalBranch || f === FlowControl.UnconditionalBranch) && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32)) {
      const t = Number(insn.nearBranchTarget);
      if (t < ip) this.backEdges.push([t, ip]);
    }
    if (insn.mnemonic === Mnemonic.Cmp) return;
    const p = this.pending;
    this.pending = null;
    if (p !== null && f === FlowControl.ConditionalBranch) this.candidates.push({ ...p, jump: ip, target: Number(insn.nearBranchTarget), cond: insn.conditionCode });
  }

  /** The loop [head, back] and trip count of a candidate, or null. */
  private loopOf(x: Candidate): { head: number; back: number; trips: number } | null {
    const backward = x.target < x.jump;
    const conds = backward ? TRIP_BACK : OUT;
    const exact = backward ? ConditionCode.ne : ConditionCode.e;
    const inclusive = INCLUSIVE.has(x.cond) && INCLUSIVE_BACK.has(x.cond) === backward;
    // With the counter second, only (in)equality reads the same.
    if ((!conds.has(x.cond) && !inclusive) || (!x.counterFirst && x.cond !== exact)) return null;
    const edge = backward ? ([x.target, x.jump] as const) : this.backEdges.find(([h, b]) => h <= x.cmp && x.jump < b && b < x.target);
    if (edge === undefined) return null;
    const [head, back] = edge;
    const copy = this.firstWrite(x.c, head, back);
    if (copy?.kind !== 'copy' || copy.from !== x.a) return null;
    if (this.writesTo(x.a).some((ip) => ip > copy.ip)) return null;
    // `c <= a + K` runs K/s + 1 times (rounded down): as `c < a + K + 1`.
    const trips = tripsOf(inclusive ? x.k + 1 : x.k, this.stepOf(x.c, head, back), x.cond === exact);
    return trips === null ? null : { head, back, trips };
  }

  /** Where the body writes a source (frame slot, or a global directly: a store through another pointer is not seen). */
  private writesTo(src: Source): number[] {
    const n = Number(src.slice(1));
    return src.startsWith('s') ? (this.writes.get(n) ?? []).map((w) => w.ip) : (this.globalWrites.get(n) ?? []);
  }

  /** The slot's only write before `head` (none between it and the loop, none outside the loop after), or undefined. */
  private firstWrite(slot: number, head: number, back: number): SlotWrite | undefined {
    const before = (this.writes.get(slot) ?? []).filter((w) => w.ip < head);
    return before.length === 1 && !(this.writes.get(slot) ?? []).some((w) => w.ip > back) ? before[0] : undefined;
  }

  /** The sum of constant adds to `slot` in [head, back], null when another write is there. */
  private stepOf(slot: number, head: number, back: number): number | null {
    let sum = 0;
    for (const w of this.writes.get(slot) ?? []) {
      if (w.ip < head || w.ip > back) continue;
      if (w.kind !== 'add') return null;
      sum += w.k;
    }
    return sum;
  }

  /**
   * Index and pointer slots' bounds (loop-walks.ts's `s<slot>` variables): i0 + (trips - 1) x t
   * for each slot set to i0 before a counted loop (a constant, or the pointer offset
   * `pointerAt(slot, ip)` gives for the store at ip) and stepped by t in it. `addressTaken(slot)`:
   * the frame-escape policy of the other frame-slot users (frame-slots.ts, frame-escape.ts): a counter,
   * end or index slot whose address was taken (`bump(&j)`, or handed on from a register holding another
   * slot's address: `lea rax,[rbp-0x20]; lea rcx,[rax+0x18]`), or any slot of a frame whose address was
   * copied out, may be written by a callee or through a pointer the scan does not see, so it counts nothing.
   */
  bounds(pointerAt: (slot: number, ip: number) => number | undefined, addressTaken: (slot: number) => boolean = () => false): Map<string, number> {
    const out = new Map<string, number>();
    if (this.unknownStore) return out;
    for (const x of this.candidates) {
      if (addressTaken(x.c) || (x.a.startsWith('s') && addressTaken(Number(x.a.slice(1))))) continue;
      const loop = this.loopOf(x);
      if (loop === null) continue;
      // The counter less the slot it was copied from is 0 at the first pass.
      const step = this.stepOf(x.c, loop.head, loop.back);
      if (x.a.startsWith('s') && step !== null && step > 0) out.set(differenceVar(x.c, Number(x.a.slice(1))), (loop.trips - 1) * step);
      for (const slot of this.writes.keys()) {
        if (slot === x.c || `s${slot}` === x.a || addressTaken(slot)) continue;
        const first = this.firstWrite(slot, loop.head, loop.back);
        const t = this.stepOf(slot, loop.head, loop.back);
        const i0 = first === undefined ? undefined : first.kind === 'const' ? first.k : pointerAt(slot, first.ip);
        if (i0 === undefined || t === null || t <= 0) continue;
        const bound = i0 + (loop.trips - 1) * t;
        out.set(`s${slot}`, Math.max(out.get(`s${slot}`) ?? 0, bound));
      }
    }
    return out;
  }
}
