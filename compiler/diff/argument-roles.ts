/**
 * What a function does with each of its register arguments (rcx, rdx, r8, r9) at entry: the
 * roles entry-arguments.ts compares between a root's old and new bodies. Two bodies may read
 * the same registers with another meaning (parameters reordered or removed, a struct result
 * that shrank from a hidden pointer in rcx to rax): the live-in sets are equal, the roles not.
 *
 * An argument's value is followed forward from the entry through copies (`mov r, r`, `lea r,
 * [r+disp]`, `add/sub r, imm`, into callee-saved registers across calls), and each use of it
 * is evidence of one role:
 * - POINTER: a memory operand's base (a load, a store, `call [rcx+8]`; not `lea`);
 * - INTEGER: read as 32 bits or narrower (a pointer on x64 is never truncated: `mov eax, ecx`,
 *   `lea eax, [rcx+rcx*2]`, `movd xmm2, edx`, `test cl, cl`), scaled as a memory index, or an
 *   operand of a multiply, divide, shift or integer-to-float conversion;
 * - RETURNED: in rax at a return (a hidden result pointer, which the convention hands back in
 *   rax; memcpy-like functions return a pointer argument too).
 * A direct call or jump passes the roles its callee gives its own argument registers back to
 * the arguments it was handed (through recursion guards and the same depth limit as
 * caller-registers.ts). Neutral uses (a 64-bit copy, store, compare, add; a pass to a call this
 * analysis cannot follow) are no evidence either way: a pointer is compared with null and
 * added to as often as an integer. Paths merge by keeping only the copies all of them agree on;
 * evidence seen on any path counts.
 *
 * A value spilled to the frame (a 64-bit `mov [rbp+0x10],rcx`, as -O0 code spills every
 * argument) is followed in its slot when frame-slots.ts says the slot holds one value
 * throughout the body (written by that store only, its address never taken, the frame never
 * lost): a 64-bit `mov` from the slot puts the argument back in a register, and a read of the
 * slot's bytes narrower than 8 (`mov edx,[rbp+0x10]`, `imul eax,[rsp],10`: a struct of two
 * ints passed by value, its halves read) is INTEGER evidence, as for a register.
 *
 * Not followed: stack arguments (the fifth on), xmm arguments (a float and an integer argument
 * of one position use different registers, which the live-in comparison sees).
 */
import { FlowControl, Instruction, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type UsedRegister } from 'iced-x86';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import { functionAt } from './call-graph-clobbers.ts';
import { mapFrame, type FrameMap } from './frame-slots.ts';
import { decodeUsed, withUsedRegisters, type InsnAt, type RegisterEffects } from './register-effects.ts';
import { opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** Role bits of one argument. */
export const ROLE_POINTER = 1;
export const ROLE_INTEGER = 2;
export const ROLE_RETURNED = 4;

/** The argument registers in order, as GPR numbers (rcx 1, rdx 2, r8 8, r9 9). */
const ARG_GPRS = [1, 2, 8, 9] as const;
/** Their names, for messages. */
export const ARG_NAMES = ['rcx', 'rdx', 'r8', 'r9'] as const;
/** GPRs a call may change (rax, rcx, rdx, r8-r11). */
const VOLATILE_GPRS = [0, 1, 2, 8, 9, 10, 11] as const;
const RAX = 0;
const RSP = 4;

/** Roles of rcx, rdx, r8, r9 (ROLE_* bits each). */
export type ArgumentRoleSet = readonly [number, number, number, number];
const NONE: ArgumentRoleSet = [0, 0, 0, 0];

/** One instruction as the role search needs it. */
export interface RoleInsn {
  readonly rva: number;
  readonly next: number;
  readonly flow: FlowControl;
  /** Direct branch or call target, or -1. */
  readonly target: number;
  /** Evidence: (gpr << 3) | ROLE_* bit, for each use of a register's value. */
  readonly uses: readonly number[];
  /** GPRs written (bit per GPR number). */
  readonly writes: number;
  /** A copy: after the writes, GPR `copyDst` holds what GPR `copySrc` held before (-1: none). */
  readonly copyDst: number;
  readonly copySrc: number;
  /** A spill: the GPR a 64-bit `mov [rsp/rbp+d], r64` stores (-1: none). */
  readonly spill: number;
  /** A reload: the GPR a 64-bit `mov r64, [rsp/rbp+d]` loads (-1: none). */
  readonly reload: number;
  /** Reads an rsp/rbp-based memory operand (not `lea`). */
  readonly frameRead: boolean;
}

const MULTIPLY_SHIFT = new Set<number>([
  Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr, Mnemonic.Sar,
  Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Shlx, Mnemonic.Shrx, Mnemonic.Sarx, Mnemonic.Cvtsi2sd, Mnemonic.Cvtsi2ss,
  Mnemonic.Vcvtsi2sd, Mnemonic.Vcvtsi2ss,
]);

/** The GPR number (0 rax .. 15 r15) of a full 64-bit register, or -1. */
function gprOf(r: Register): number {
  const full = RegisterExt.fullRegister(r);
  return full >= Register.RAX && full <= Register.R15 ? full - Register.RAX : -1;
}

const isRead = (a: OpAccess): boolean => a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite;
const isWrite = (a: OpAccess): boolean => a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite;

/** The copy an instruction makes (`mov r64, r64`, `lea r64, [r+disp]`, `add/sub r64, imm`), or null. */
function copyOf(insn: Instruction): readonly [number, number] | null {
  if (insn.opCount < 1 || insn.op0Kind !== OpKind.Register || !RegisterExt.isGPR64(insn.op0Register)) return null;
  const dst = gprOf(insn.op0Register);
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register && RegisterExt.isGPR64(insn.op1Register)) return [dst, gprOf(insn.op1Register)];
  if (mn === Mnemonic.Lea && insn.memoryIndex === Register.None && RegisterExt.isGPR64(insn.memoryBase)) return [dst, gprOf(insn.memoryBase)];
  if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory) return [dst, dst];
  return null;
}

/** The role evidence and register effects of the instruction decoded into `insn`, which uses the registers `used` (stack-arguments.ts follows loaded stack arguments with it too). */
export function roleInsnOf(insn: Instruction, used: readonly UsedRegister[], rva: number, length: number, flow: FlowControl): RoleInsn {
  const uses: number[] = [];
  const mn = insn.mnemonic;
  const lea = mn === Mnemonic.Lea;
  for (let i = 0; i < insn.opCount; i++) {
    if (opKindOf(insn, i) !== OpKind.Memory || mn === Mnemonic.Nop) continue;
    const base = gprOf(insn.memoryBase);
    if (!lea && base >= 0 && base !== RSP) uses.push((base << 3) | ROLE_POINTER);
    const index = gprOf(insn.memoryIndex);
    if (index >= 0 && insn.memoryIndexScale > 1) uses.push((index << 3) | ROLE_INTEGER);
  }
  let writes = 0;
  const arith = MULTIPLY_SHIFT.has(mn);
  for (const u of used) {
    const g = gprOf(u.register);
    if (g < 0) continue;
    if (isWrite(u.access)) writes |= 1 << g;
    if (!isRead(u.access)) continue;
    const narrow = RegisterExt.isGPR32(u.register) || RegisterExt.isGPR16(u.register) || RegisterExt.isGPR8(u.register);
    if (narrow || (arith && isOperand(insn, u.register))) uses.push((g << 3) | ROLE_INTEGER);
  }
  const copy = copyOf(insn);
  const frame = frameOperand(insn);
  const direct = flow === FlowControl.Call || flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch;
  const target = direct && insn.opCount > 0 && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32) ? Number(insn.nearBranchTarget) : -1;
  return { rva, next: rva + length, flow, target, uses, writes, copyDst: copy?.[0] ?? -1, copySrc: copy?.[1] ?? -1, ...frame };
}

const NO_FRAME = { spill: -1, reload: -1, frameRead: false } as const;

/**
 * The spill, reload or other use of a frame slot `insn` makes (an rsp/rbp-based operand with no
 * index). Any use but a spill counts as a read: a slot that holds one value is written by its
 * spill alone, so another instruction on it (a compare, an `imul eax,[rsp],10`) only reads it.
 */
function frameOperand(insn: Instruction): { spill: number; reload: number; frameRead: boolean } {
  if (insn.mnemonic === Mnemonic.Lea || insn.memoryIndex !== Register.None || (insn.memoryBase !== Register.RSP && insn.memoryBase !== Register.RBP)) return NO_FRAME;
  let m = -1;
  for (let i = 0; i < insn.opCount && m < 0; i++) if (opKindOf(insn, i) === OpKind.Memory) m = i;
  if (m < 0) return NO_FRAME;
  const other = insn.opCount === 2 && opKindOf(insn, 1 - m) === OpKind.Register && RegisterExt.isGPR64(opRegisterOf(insn, 1 - m)) ? gprOf(opRegisterOf(insn, 1 - m)) : -1;
  if (insn.mnemonic === Mnemonic.Mov && other >= 0) return m === 0 ? { spill: other, reload: -1, frameRead: false } : { spill: -1, reload: other, frameRead: true };
  return { spill: -1, reload: -1, frameRead: true };
}

/** roleInsnOf for an instruction decoded on its own (the registers it uses found and freed here). */
export function roleInsnAlone(insn: Instruction, rva: number, length: number, flow: FlowControl): RoleInsn {
  return withUsedRegisters(insn, (used) => roleInsnOf(insn, used, rva, length, flow));
}

/** Whether `r` is one of `insn`'s explicit register operands (not an implicit rdx:rax of mul/div). */
function isOperand(insn: Instruction, r: Register): boolean {
  for (let i = 0; i < insn.opCount; i++) if (opKindOf(insn, i) === OpKind.Register && opRegisterOf(insn, i) === r) return true;
  return false;
}

/** How deep the search follows calls handing an argument on (a role seen deeper is not counted). */
const MAX_DEPTH = 4;

/** Role instructions of one function, by RVA. */
type RoleCode = ReadonlyMap<number, RoleInsn>;

/** Each instruction of a function decoded for its role evidence, into `out` by RVA. */
const roleRider =
  (out: Map<number, RoleInsn>) =>
  (insn: Instruction, used: readonly UsedRegister[], d: InsnAt): void => {
    out.set(d.rva, roleInsnOf(insn, used, d.rva, d.length, d.flow));
  };

/**
 * The role code decoded on the RegisterEffects of an image, by function index: every
 * ArgumentRoles of the image shares it, and it is filled on RegisterEffects' own decode (one
 * decode and one register list per instruction for both analyses: entry-arguments.ts runs
 * both over much the same functions).
 */
const sharedCode = new WeakMap<RegisterEffects, Map<number, RoleCode>>();

function codeOn(fx: RegisterEffects): Map<number, RoleCode> {
  let code = sharedCode.get(fx);
  if (code === undefined) {
    const c = new Map<number, RoleCode>();
    fx.ride((f) => {
      const out = new Map<number, RoleInsn>();
      c.set(f.index, out);
      return roleRider(out);
    });
    sharedCode.set(fx, (code = c));
  }
  return code;
}

/** Argument roles of one image's functions, each searched once. */
export class ArgumentRoles {
  private readonly decoded: Map<number, RoleCode>;
  private readonly memo = new Map<number, ArgumentRoleSet>();
  constructor(
    private readonly fns: FunctionTable,
    private readonly image: Uint8Array,
    /** The roles of `g` when not its own code's (entry-arguments.ts: a changed callee's new body), else undefined. */
    private readonly given: (g: FunctionInfo) => ArgumentRoleSet | undefined = () => undefined,
    /** The image's register effects, when another rule decodes its functions too: the decode is shared. */
    private readonly fx?: RegisterEffects,
  ) {
    this.decoded = fx === undefined ? new Map() : codeOn(fx);
  }

  /** The roles `f` gives rcx, rdx, r8 and r9 from its entry, through its direct calls. */
  of(f: FunctionInfo): ArgumentRoleSet {
    return this.rolesOf(f, 0);
  }

  private rolesOf(g: FunctionInfo, depth: number): ArgumentRoleSet {
    const given = this.given(g);
    if (given !== undefined) return given;
    const hit = this.memo.get(g.index);
    if (hit !== undefined) return hit;
    // A recursion, or a chain too deep: what is still being searched gives no evidence.
    if (depth >= MAX_DEPTH) return NONE;
    this.memo.set(g.index, NONE);
    const v = this.search(g, depth);
    this.memo.set(g.index, v);
    return v;
  }

  private insnsOf(f: FunctionInfo): RoleCode {
    let hit = this.decoded.get(f.index);
    if (hit !== undefined) return hit;
    // Decoded with its register effects (the rider fills `decoded`), unless they were decoded before the rider rode.
    this.fx?.of(f);
    hit = this.decoded.get(f.index);
    if (hit !== undefined) return hit;
    const out = new Map<number, RoleInsn>();
    decodeUsed(this.image, f.decoded.insns, roleRider(out));
    this.decoded.set(f.index, out);
    return out;
  }

  /**
   * The forward search from `f`'s entry. The state says which GPRs hold each argument: a
   * 16-bit mask per argument, rcx's and rdx's in `lo`, r8's and r9's in `hi` (int32 words; no allocation
   * per instruction: the searches run over much of an image). Paths meet by intersection.
   */
  private search(f: FunctionInfo, depth: number): ArgumentRoleSet {
    const code = this.insnsOf(f);
    const tables = new Map<number, readonly number[]>(f.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
    const roles = [0, 0, 0, 0];
    const seenLo = new Map<number, number>();
    const seenHi = new Map<number, number>();
    const seenSl = new Map<number, number>();
    const spilled = new SpilledArguments(this.image, f);
    // The pending paths: rva, lo, hi, sl (the frame slots holding arguments: SpilledArguments).
    const stack: number[] = [f.entry, holding(0, 1 << ARG_GPRS[0]) | holding(1, 1 << ARG_GPRS[1]), holding(0, 1 << ARG_GPRS[2]) | holding(1, 1 << ARG_GPRS[3]), 0];
    // A callee's roles, given back to the arguments it was handed.
    const passTo = (target: number, lo: number, hi: number): void => {
      // Searched only when an argument is handed on: most calls pass values of their own.
      if (!ARG_GPRS.some((reg) => argIn(lo, hi, reg) >= 0)) return;
      const g = target >= 0 ? functionAt(this.fns, target) : undefined;
      if (g === undefined || g.entry !== target) return;
      const r = this.rolesOf(g, depth + 1);
      ARG_GPRS.forEach((reg, a) => {
        const k = argIn(lo, hi, reg);
        if (k >= 0) roles[k]! |= r[a]! & (ROLE_POINTER | ROLE_INTEGER);
      });
    };
    while (stack.length > 0) {
      let sl = stack.pop()!;
      let hi = stack.pop()!;
      let lo = stack.pop()!;
      let rva = stack.pop()!;
      for (;;) {
        const e = code.get(rva);
        if (e === undefined) break;
        const bLo = seenLo.get(rva);
        if (bLo !== undefined) {
          const bHi = seenHi.get(rva)!;
          const bSl = seenSl.get(rva)!;
          if ((bLo & lo) === bLo && (bHi & hi) === bHi && (bSl & sl) === bSl) break;
          lo &= bLo;
          hi &= bHi;
          sl &= bSl;
        }
        seenLo.set(rva, lo);
        seenHi.set(rva, hi);
        seenSl.set(rva, sl);
        if ((lo | hi | sl) === 0) break;
        for (const u of e.uses) {
          const k = argIn(lo, hi, u >> 3);
          if (k >= 0) roles[k]! |= u & 7;
        }
        const fl = e.flow;
        if (fl === FlowControl.Return) {
          const k = argIn(lo, hi, RAX);
          if (k >= 0) roles[k]! |= ROLE_RETURNED;
          break;
        }
        if (fl === FlowControl.Call) passTo(e.target, lo, hi);
        const kill = fl === FlowControl.Call || fl === FlowControl.IndirectCall ? e.writes | VOLATILE_MASK : e.writes;
        let nLo = stepHalf(lo, kill, e.copyDst, e.copySrc);
        let nHi = stepHalf(hi, kill, e.copyDst, e.copySrc);
        let nSl = sl;
        if (e.spill >= 0) nSl = spilled.spill(e.rva, sl, argIn(lo, hi, e.spill));
        else if (e.frameRead && sl !== 0) {
          const r = spilled.read(e.rva, sl);
          if (r !== null && r.narrow) roles[r.arg]! |= ROLE_INTEGER;
          else if (r !== null && r.whole && e.reload >= 0) [nLo, nHi] = place(nLo, nHi, r.arg, e.reload);
        }
        if (fl === FlowControl.IndirectBranch) {
          for (const t of tables.get(rva) ?? []) stack.push(t, nLo, nHi, nSl);
          break;
        } else if (fl === FlowControl.UnconditionalBranch || fl === FlowControl.ConditionalBranch) {
          if (e.target >= 0 && code.has(e.target)) stack.push(e.target, nLo, nHi, nSl);
          else passTo(e.target, lo, hi);
          if (fl === FlowControl.UnconditionalBranch) break;
        } else if (fl === FlowControl.Interrupt || fl === FlowControl.Exception) break;
        lo = nLo;
        hi = nHi;
        sl = nSl;
        rva = e.next;
      }
    }
    return [roles[0]!, roles[1]!, roles[2]!, roles[3]!];
  }
}

/** How many frame slots one search follows arguments in (4 bits each in a 32-bit word). */
const MAX_SLOTS = 8;

/**
 * The frame slots holding an argument during one search, as a word of 4 bits (one per
 * argument) for each slot. The frame (frame-slots.ts mapFrame) is read the first time a
 * register holding an argument is spilled: most bodies never spill one.
 */
class SpilledArguments {
  private frame: FrameMap | undefined;
  /** Slot index by frame offset. */
  private readonly index = new Map<number, number>();
  constructor(
    private readonly image: Uint8Array,
    private readonly f: FunctionInfo,
  ) {}

  /** The slot word after the spill at `rva` of a register holding argument `arg` (-1: none). */
  spill(rva: number, sl: number, arg: number): number {
    if (arg < 0 && sl === 0) return sl;
    this.frame ??= mapFrame(this.image, this.f.decoded.insns);
    const a = this.frame.accesses.get(rva);
    // A store at no known offset disables every slot (holdsOne); one at a slot holding more than one value holds no argument.
    if (a === undefined || a.size !== 8 || !this.frame.holdsOne(a.at)) return sl;
    let k = this.index.get(a.at);
    if (k === undefined) {
      if (this.index.size >= MAX_SLOTS) return sl;
      this.index.set(a.at, (k = this.index.size));
    }
    const out = sl & ~(0xf << (4 * k));
    return arg < 0 ? out : out | (1 << (4 * k + arg));
  }

  /** What the frame read at `rva` reads of an argument in its slot: the argument, whether it reads the whole slot, or fewer than 8 bytes of it. */
  read(rva: number, sl: number): { arg: number; whole: boolean; narrow: boolean } | null {
    const a = this.frame?.accesses.get(rva);
    if (a === undefined) return null;
    for (const [at, k] of this.index) {
      const bits = (sl >>> (4 * k)) & 0xf;
      if (bits === 0 || a.at < at || a.at + a.size > at + 8) continue;
      return { arg: 31 - Math.clz32(bits), whole: a.at === at && a.size === 8, narrow: a.size < 8 };
    }
    return null;
  }
}

/** The state (lo, hi) with GPR `g` holding argument `arg` (a reload from its slot). */
function place(lo: number, hi: number, arg: number, g: number): [number, number] {
  const bit = 1 << g;
  const clear = ~(bit | (bit << 16));
  lo &= clear;
  hi &= clear;
  return arg < 2 ? [lo | holding(arg, bit), hi] : [lo, hi | holding(arg - 2, bit)];
}

/** GPRs a call may change, as a mask. */
export const VOLATILE_MASK = VOLATILE_GPRS.reduce<number>((m, g) => m | (1 << g), 0);

/** The half-state word for argument `slot` (0 or 1 of its half) held in the GPRs of `mask`. */
function holding(slot: number, mask: number): number {
  return slot === 0 ? mask : mask << 16;
}

/** Which argument (0..3) GPR `g` holds in the state (lo, hi), or -1. */
function argIn(lo: number, hi: number, g: number): number {
  const bit = 1 << g;
  if ((lo & bit) !== 0) return 0;
  if (((lo >>> 16) & bit) !== 0) return 1;
  if ((hi & bit) !== 0) return 2;
  if (((hi >>> 16) & bit) !== 0) return 3;
  return -1;
}

/** One half-state word after an instruction that writes the GPRs of `kill` and copies `src` into `dst` (-1: no copy). */
function stepHalf(word: number, kill: number, dst: number, src: number): number {
  let out = word & ~(kill | (kill << 16));
  if (dst >= 0 && src >= 0) {
    const d = 1 << dst;
    const s = 1 << src;
    out &= ~(d | (d << 16));
    if ((word & s) !== 0) out |= d;
    if (((word >>> 16) & s) !== 0) out |= d << 16;
  }
  return out;
}

/** One argument whose role an old caller cannot satisfy: old and new roles. */
export interface RoleChange {
  /** 0..3: rcx, rdx, r8, r9; 4 on: the caller stack-argument slots [rsp+0x28], [rsp+0x30], ... (stack-arguments.ts). */
  readonly arg: number;
  readonly old: number;
  readonly new: number;
}

/**
 * The arguments whose role changed in a way an old caller cannot satisfy: a pointer (only
 * dereferenced, never used as an integer) now only used as an integer, or the reverse (roles
 * of registers, or of stack slots from argument `first` on). A role
 * only added where the old body never read the register is the live-in comparison's; one the
 * new body drops (a removed last parameter) is harmless; a register with both kinds of evidence
 * on either side tells nothing.
 */
export function roleChanges(oldRoles: readonly number[], newRoles: readonly number[], first = 0): RoleChange[] {
  const out: RoleChange[] = [];
  const both = ROLE_POINTER | ROLE_INTEGER;
  for (let a = 0; a < Math.min(oldRoles.length, newRoles.length); a++) {
    const o = oldRoles[a]! & both;
    const n = newRoles[a]! & both;
    if ((o === ROLE_POINTER && n === ROLE_INTEGER) || (o === ROLE_INTEGER && n === ROLE_POINTER)) out.push({ arg: first + a, old: oldRoles[a]!, new: newRoles[a]! });
  }
  return out;
}

/**
 * One role change in words, `before` naming what used the argument the old way (`its old
 * body`): `dereferences rdx, which its old body used as an integer (parameters reordered or removed?)`.
 */
export function describeRoleChange(c: RoleChange, before: string): string {
  const r = ARG_NAMES[c.arg] ?? `the stack argument [rsp+0x${(0x28 + 8 * (c.arg - 4)).toString(16)}]`;
  if ((c.new & ROLE_POINTER) !== 0) return `dereferences ${r}, which ${before} used as an integer (parameters reordered or removed?)`;
  if ((c.old & ROLE_RETURNED) !== 0) return `uses ${r} as an integer, which ${before} wrote its result through and returned in rax (a hidden result pointer; the result now comes back in registers?)`;
  return `uses ${r} as an integer, which ${before} dereferenced (a pointer; parameters reordered or removed?)`;
}
