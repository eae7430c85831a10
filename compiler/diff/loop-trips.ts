/**
 * Loops bounded by a trip count rather than a constant bound, read as loop-walks.ts's evidence.
 * test/probes/red-tail-end.c at gcc -O1: `for (p = o->arr; p != o->arr + N; p++) *p = k++;`
 * compiles to a counter compared with a register the body set from it before the loop:
 *   lea rax,[rcx+0x4]; lea r8d,[rdx+0x10]      (end = k + N)
 *   head: mov ecx,edx; add edx,0x1; mov [rax],ecx; add rax,0x4; cmp edx,r8d; jne head
 * No compare names a constant or an end pointer, yet the loop runs exactly N times: the counter
 * starts at its value where the end was made (`lea end,[c+K]`, or a copy `mov end,c` then
 * `add end,K`; c unchanged from that point until the loop head, end unchanged until the back edge) and each pass adds the same constant step s to it,
 * so the back edge (`cmp c,end` or `cmp end,c`; jne, jl or jb back) is taken K/s times
 * (rounded up; a jne whose K is no multiple of s gives no evidence). A pointer derived from an
 * argument and advanced only by constants in that loop reaches `its offset at the access +
 * (trips - 1) x its step per pass + displacement + size`: grown N (K) on a trailing array is
 * the same finding as a grown constant bound.
 * The counter may also start at a global (test/probes/red-trip-global.c, clang -O1:
 * `mov eax,[g]` before the loop, `mov edx,[g]; add edx,0x17; cmp eax,edx` each pass): the end
 * is the global plus K, which the body may remake every pass when it stores to the global
 * nowhere (a store through another pointer is not seen: the evidence only adds refusals).
 * A step between the compare and its jump that leaves the flags (`lea eax,[rax+0x1]`) makes
 * the compare see the counter one step short: K + that step passes. An access indexed by the
 * counter itself from a base that takes its start off (gcc -O1 `o->arr[i - k]`: `mov r8,rdx;
 * neg r8; lea rax,[rcx+r8*4]`, `mov [rax+rdx*4+0x4],edx`) reaches its displacement + scale x
 * (trips - 1) x step (test/probes/red-trip-base.c).
 * Read in address order like loop-walks.ts (no paths): a write the scan does not model
 * (anything but an in-place constant add, sub, inc, dec or `lea r,[r+imm]`) to the counter in
 * the loop, or to the end before the back edge, gives no evidence.
 */
import { ConditionCode, FlowControl, type Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { fullRegister } from './added-field.ts';
import { IMMEDIATE_KINDS, immediateOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** A register write: its address and the constant it adds in place (null: any other write). */
interface Write {
  readonly ip: number;
  readonly add: number | null;
}

/** An access through a loop pointer: the pointer's register and argument offset where it is read. */
export interface PointerAccess {
  readonly reg: number;
  readonly arg: number;
  readonly off: number;
  readonly disp: number;
  readonly size: number;
  readonly rva: number;
}

/** One loop counted to a register end: body [head, back], trip count, counter register. */
interface CountedLoop {
  readonly head: number;
  readonly back: number;
  readonly trips: number;
  readonly c: number;
}

/**
 * An access `[base + c*scale + disp]` whose base is an argument less the counter's start
 * scaled (gcc -O1 `o->arr[i - k]`: `mov r8,rdx; neg r8; lea rax,[rcx+r8*4]`, then
 * `mov [rax+rdx*4+0x4],edx`): `disp` is the argument offset, `from` where c was copied.
 */
export interface CounterAccess {
  readonly base: number;
  readonly c: number;
  readonly from: number;
  readonly arg: number;
  readonly scale: number;
  readonly disp: number;
  readonly size: number;
  readonly rva: number;
}

/**
 * An end register: counter `c` plus `k`, made at `ip` from c's value at `from`; or (`global`)
 * a global's value plus `k`, which a counter loaded from that global is compared with.
 */
interface End {
  readonly c: number;
  readonly k: number;
  readonly ip: number;
  readonly from: number;
  readonly global?: number;
}

/** Back-edge conditions that continue while the counter is below its end (`jne`, `jl`, `jb`). */
export const TRIP_BACK: ReadonlySet<number> = new Set<number>([ConditionCode.ne, ConditionCode.l, ConditionCode.b]);

/**
 * How many passes a counter stepping by `step` makes to an end `k` beyond its start: K/s rounded
 * up, or null with no positive step, or when the test is (in)equality (`exact`) and K is no
 * multiple of s (the counter steps over its end).
 */
export function tripsOf(k: number, step: number | null, exact: boolean): number | null {
  if (step === null || step <= 0 || (exact && k % step !== 0)) return null;
  return Math.ceil(k / step);
}
const READS_ONLY = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Push, Mnemonic.Bt]);
/** One-operand forms that write rax and rdx implicitly. */
const WIDE = new Set<number>([Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv]);

/** The constant `insn` adds to its destination register in place, or null. */
function inPlaceAdd(insn: Instruction): number | null {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Inc) return 1;
  if (mn === Mnemonic.Dec) return -1;
  if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind)) {
    const k = immediateOf(insn, 1);
    return mn === Mnemonic.Add ? k : -k;
  }
  if (mn === Mnemonic.Lea && insn.memoryIndex === Register.None && fullRegister(insn.memoryBase) === fullRegister(insn.op0Register)) return Number(BigInt.asIntN(64, insn.memoryDisplacement));
  return null;
}

/** Register writes, counter ends and counted back edges of one body, stepped in address order. */
export class TripCounts {
  private readonly writes = new Map<number, Write[]>();
  /** Full register -> the end it holds: counter `c` plus `k`, made at `ip` from c's value at `from`. */
  private readonly ends = new Map<number, End>();
  /** Full register -> the register it copied (`mov e,c`) at `ip`, until it is written again. */
  private readonly copies = new Map<number, { c: number; ip: number }>();
  /** Full register -> the global it was loaded from (`mov c,[rip+g]`) at `ip`, kept through in-place adds. */
  private readonly loads = new Map<number, { g: number; ip: number }>();
  /** Globals the body stores to directly. */
  private readonly stored = new Set<number>();
  private pending: { c: number; e: number; first: boolean; end: End; cmp: number } | null = null;
  private readonly loops: CountedLoop[] = [];
  /** Full register -> the counter it holds negated (`mov r,c; neg r`), copied at `ip`. */
  private readonly negs = new Map<number, { c: number; ip: number }>();

  /** The counter register `r` holds negated, and where it was copied. */
  negatedCounter(r: number): { c: number; ip: number } | undefined {
    return this.negs.get(r);
  }

  /** Call for every instruction, before the body's register tracking forgets what it wrote. */
  step(insn: Instruction): void {
    this.branch(insn);
    this.compare(insn);
    const ip = Number(insn.ip);
    if (insn.mnemonic === Mnemonic.Call) {
      for (const r of VOLATILE_REGISTERS) this.write(r, ip, null);
      return;
    }
    if (WIDE.has(insn.mnemonic) && insn.opCount === 1) {
      this.write(Register.RAX, ip, null);
      this.write(Register.RDX, ip, null);
    }
    if (insn.mnemonic === Mnemonic.Cdq || insn.mnemonic === Mnemonic.Cqo) this.write(Register.RDX, ip, null);
    if (insn.opCount > 0 && insn.op0Kind === OpKind.Memory && insn.memoryBase === Register.RIP && !READS_ONLY.has(insn.mnemonic)) this.stored.add(Number(insn.memoryDisplacement));
    if (insn.mnemonic === Mnemonic.Xchg && insn.op1Kind === OpKind.Register) this.write(fullRegister(insn.op1Register), ip, null);
    if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || READS_ONLY.has(insn.mnemonic)) return;
    const dst = fullRegister(insn.op0Register);
    const copy = this.copies.get(dst);
    const add = inPlaceAdd(insn);
    const load = this.loads.get(dst);
    this.write(dst, ip, add);
    if (load !== undefined && add !== null) this.loads.set(dst, load);
    this.globalLoad(insn, dst, ip, add, load);
    if (insn.mnemonic === Mnemonic.Neg && copy !== undefined) this.negs.set(dst, copy);
    const lea = insn.mnemonic === Mnemonic.Lea && insn.memoryIndex === Register.None && insn.memoryBase !== Register.None;
    const c = lea ? fullRegister(insn.memoryBase) : -1;
    const k = lea ? Number(BigInt.asIntN(64, insn.memoryDisplacement)) : 0;
    if (lea && c !== dst && c !== Register.RSP && c !== Register.RBP && c !== Register.RIP && k > 0) this.ends.set(dst, { c, k, ip, from: ip });
    // `mov end,c; add end,K`: the same end, made from c's value at the copy.
    if (copy !== undefined && insn.mnemonic === Mnemonic.Add && add !== null && add > 0) this.ends.set(dst, { c: copy.c, k: add, ip, from: copy.ip });
    const src = insn.mnemonic === Mnemonic.Mov && insn.op1Kind === OpKind.Register ? fullRegister(insn.op1Register) : -1;
    if (src !== -1 && src !== dst && src !== Register.RSP && src !== Register.RBP && RegisterExt.size(insn.op0Register) === RegisterExt.size(insn.op1Register)) this.copies.set(dst, { c: src, ip });
  }

  /**
   * `mov r,[rip+g]` starts a counter at a global's value (`for (j = g_base; j != g_base + N; j++)`);
   * `add r,K` after that load makes the end g + K, which the body may remake every pass.
   */
  private globalLoad(insn: Instruction, dst: number, ip: number, add: number | null, had: { g: number; ip: number } | undefined): void {
    if (insn.mnemonic === Mnemonic.Mov && insn.op1Kind === OpKind.Memory && insn.memoryBase === Register.RIP && insn.memoryIndex === Register.None && RegisterExt.size(insn.op0Register) >= 4) this.loads.set(dst, { g: Number(insn.memoryDisplacement), ip });
    else if (had !== undefined && insn.mnemonic === Mnemonic.Add && add !== null && add > 0 && had.ip === this.lastWrite(dst, ip)) this.ends.set(dst, { c: -1, k: add, ip, from: had.ip, global: had.g });
  }

  /** The address of the last write to `r` before `ip`. */
  private lastWrite(r: number, ip: number): number | undefined {
    const w = (this.writes.get(r) ?? []).filter((x) => x.ip < ip);
    return w.length === 0 ? undefined : w[w.length - 1]!.ip;
  }

  private write(r: number, ip: number, add: number | null): void {
    const w = this.writes.get(r);
    if (w === undefined) this.writes.set(r, [{ ip, add }]);
    else w.push({ ip, add });
    this.ends.delete(r);
    this.copies.delete(r);
    this.loads.delete(r);
    this.negs.delete(r);
  }

  /** `cmp c,end` or `cmp end,c` between two registers, one an end made from the other. */
  private compare(insn: Instruction): void {
    if (insn.mnemonic !== Mnemonic.Cmp || insn.op0Kind !== OpKind.Register || insn.op1Kind !== OpKind.Register) return;
    const a = fullRegister(insn.op0Register);
    const b = fullRegister(insn.op1Register);
    const ea = this.resolve(this.ends.get(a), b);
    const eb = this.resolve(this.ends.get(b), a);
    const cmp = Number(insn.ip);
    if (eb !== undefined && eb.c === a) this.pending = { c: a, e: b, first: true, end: eb, cmp };
    else if (ea !== undefined && ea.c === b) this.pending = { c: b, e: a, first: false, end: ea, cmp };
  }

  /** A global's end, compared with counter `c` loaded from the same global: the end of c (from its load), none when the body stores to the global. */
  private resolve(end: End | undefined, c: number): End | undefined {
    if (end?.global === undefined) return end;
    const load = this.loads.get(c);
    return load === undefined || load.g !== end.global || this.stored.has(end.global) ? undefined : { ...end, c, from: load.ip };
  }

  private branch(insn: Instruction): void {
    const p = this.pending;
    if (insn.mnemonic === Mnemonic.Cmp) return;
    // A step between the compare and its jump that leaves the flags (clang `cmp eax,edx; lea eax,[rax+0x1]; jne`).
    if (p !== null && insn.flowControl === FlowControl.Next && insn.rflagsModified === 0) return;
    this.pending = null;
    if (p === null || insn.flowControl !== FlowControl.ConditionalBranch) return;
    const head = Number(insn.nearBranchTarget);
    const back = Number(insn.ip);
    // `cmp end,c; jne` reads the same; `cmp end,c; jl/jb` continues while c > end: no upper bound.
    // An end made from a global may be remade in the loop (it does not move: the body does not store to the global).
    if (head >= back || (p.end.global === undefined && head <= p.end.ip) || !TRIP_BACK.has(insn.conditionCode) || (!p.first && insn.conditionCode !== ConditionCode.ne)) return;
    if (this.writesIn(p.c, p.end.from + 1, head - 1) !== 0 || this.writesIn(p.e, p.end.ip + 1, back) !== 0) return;
    // Steps after the compare: the compare sees the counter `post` short of its value at the back edge.
    const post = this.writesIn(p.c, p.cmp + 1, back);
    if (post === null) return;
    const trips = tripsOf(p.end.k + post, this.writesIn(p.c, head, back), insn.conditionCode === ConditionCode.ne);
    if (trips !== null) this.loops.push({ head, back, trips, c: p.c });
  }

  /** The sum of in-place constant adds to `r` in [lo, hi], null when another write is there (0: none). */
  private writesIn(r: number, lo: number, hi: number): number | null {
    let sum = 0;
    for (const w of this.writes.get(r) ?? []) {
      if (w.ip < lo || w.ip > hi) continue;
      if (w.add === null) return null;
      sum += w.add;
    }
    return sum;
  }

  /** The walks of `accesses` (through loop pointers) inside a counted loop whose pointer only advances by constants there. */
  walks(accesses: readonly PointerAccess[]): Array<{ arg: number; scale: number; disp: number; size: number; bound: number; start: number; rva: number }> {
    return accesses.flatMap((x) => {
      const loop = this.loops.find((l) => l.head <= x.rva && x.rva < l.back);
      if (loop === undefined) return [];
      const step = this.writesIn(x.reg, loop.head, loop.back);
      if (step === null || step <= 0) return [];
      return [{ arg: x.arg, scale: 1, disp: x.disp, size: x.size, bound: x.off + (loop.trips - 1) * step, start: x.off + x.disp, rva: x.rva }];
    });
  }

  /**
   * The walks of `accesses` indexed by a counted loop's own counter from a base that takes its
   * start off: the counter, unchanged from its copy to the loop head, less its start is
   * `pre` (its steps before the access in a pass) at the first pass and grows by its step.
   */
  counterWalks(accesses: readonly CounterAccess[]): Array<{ arg: number; scale: number; disp: number; size: number; bound: number; start: number; rva: number }> {
    return accesses.flatMap((x) => {
      const loop = this.loops.find((l) => l.head <= x.rva && x.rva < l.back && l.c === x.c);
      if (loop === undefined || this.writesIn(x.c, x.from + 1, loop.head - 1) !== 0 || this.writesIn(x.base, loop.head, loop.back) !== 0) return [];
      const step = this.writesIn(x.c, loop.head, loop.back);
      const pre = this.writesIn(x.c, loop.head, x.rva - 1);
      if (step === null || step <= 0 || pre === null) return [];
      return [{ arg: x.arg, scale: x.scale, disp: x.disp, size: x.size, bound: pre + (loop.trips - 1) * step, start: x.disp + x.scale * pre, rva: x.rva }];
    });
  }
}
