/**
 * The added-field half of the layout verdict. layout-shift.ts compares the displacements of
 * aligned access pairs, so it sees fields that moved; a field the new build *added* has no
 * old access to pair with. swc-html 1.15.41 -> 1.16.1 (test/real-live/README.md) killed
 * node.exe this way: NEW 0x1f92e0 reads `[rcx+0x50]`, then that pointer's +0x10, of an object
 * that old code built, where +0x50 held another field (the value 3); its old body 0x1f8df0
 * reads the same object at +0x8..+0x40, +0x60 and +0x68, never +0x50. The new field sits in a
 * hole of the old accesses, not past them (Rust reorders fields), so "past the old maximum"
 * alone would have missed it.
 *
 * The evidence kept: a pointer the function received (an argument register, rcx, rdx, r8 or
 * r9 at entry, or a register it was copied to, followed on the body's paths until overwritten or
 * a call clobbers it; or a frame slot it was spilled to and the register reloaded from it, as
 * -O0 code does before every access: frame-slots.ts; arg-hold-paths.ts), that the old body dereferences too (at
 * least one field access on the same argument, so both sides agree the argument is a
 * structure pointer), and that the new body accesses (reads or writes, not `lea`) at an
 * offset no old access covers. Stack operands are never fields themselves (the argument
 * registers are not the stack pointer), nor indexed or negative displacements (arrays and rebased pointers), nor exception-handling funclets
 * (their rdx is the parent's frame: the verdict skips the funclets the handler data names,
 * and a body opening with MSVC's funclet prologue gives no accesses here). The code alone cannot tell a field
 * added to the structure from an existing field the fix starts to use, so both are refused:
 * the running objects were built by old code, which the patch does not change.
 */
import { FlowControl, Instruction, InstructionInfoFactory, MemorySize, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import { FrameSlots, type SlotPolicy, scanWithSlotPolicy } from './frame-slots.ts';
import { PointerUseTracker, type PointerUse } from './pointer-uses.ts';
import { decodeEach, spanOf } from './register-effects.ts';
import { type ArgHolds, argHoldsByPath, argOf, argsOnSomePath, type HoldStepAt, NO_HOLDS } from './arg-hold-paths.ts';
import { opKindOf, opRegisterOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** One field access through an argument: which argument (1-4), offset, size (0 for `lea`). */
export interface ArgAccess {
  readonly arg: number;
  readonly disp: number;
  readonly size: number;
  /** How the access treats the field's bytes: 1 a scalar integer, 2 a scalar float, 0 neither (a vector, `lea`, a bit copy; absent: 0). */
  readonly kind?: 0 | 1 | 2;
  /** Whether it is a plain load or store (mov, movzx, movsx, movsxd, movss, movsd), not arithmetic on memory (absent: not). */
  readonly move?: boolean;
  /** For an 8-byte access, what its value is used for: an address or a number (pointer-uses.ts; absent: not seen). */
  readonly use?: PointerUse;
  /**
   * Made on some paths only: the register holds the argument on some of the paths reaching the
   * instruction, not on all (a loop's first round, one side of a join). Absent: on all of them.
   */
  readonly some?: true;
  /**
   * Made through a value reloaded from a frame slot that an object whose address the body handed
   * out may span (frame-slots.ts `mayBeSpanned`): a callee may have replaced it, so the access may
   * be another object's (probe field-box: `struct box b = {0, r}; reroute(&b); b.obj->z`).
   * Absent: the argument's on the paths that give it without such a reload.
   */
  readonly uncertain?: true;
  /**
   * For an uncertain access, the spanned slots it needs a reload of, each as where it lies in
   * the object spanning it (frame-slots.ts `spanPosition`: the same when a build moved the
   * frame), sorted (a -O0 chain: the argument's home slot, a local copied from it, the box
   * member copied from that). Absent: no one slot's reloads are needed (other paths give it), or too many to tell.
   */
  readonly slots?: readonly number[];
}

/** Plain data moves: their memory size is the field's declared width (arithmetic and tests may be narrowed). */
const MOVES = new Set<number>([Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Movss, Mnemonic.Movsd, Mnemonic.Vmovss, Mnemonic.Vmovsd]);

/** The access kind of a memory operand of `size` (see ArgAccess.kind). */
function kindOf(insn: Instruction): 0 | 1 | 2 {
  const m = insn.memorySize;
  if (m === MemorySize.Float32 || m === MemorySize.Float64) return 2;
  if (m !== MemorySize.UInt8 && m !== MemorySize.Int8 && m !== MemorySize.UInt16 && m !== MemorySize.Int16 && m !== MemorySize.UInt32 && m !== MemorySize.Int32 && m !== MemorySize.UInt64 && m !== MemorySize.Int64) return 0;
  // movd/movq between memory and a vector register copy bits; the field's type is not said.
  for (let k = 0; k < insn.opCount; k++) if (opKindOf(insn, k) === OpKind.Register && RegisterExt.isVectorRegister(opRegisterOf(insn, k))) return 0;
  return 1;
}

/** A new access at a field the old body never accesses through the same argument. */
export interface AddedField {
  readonly arg: number;
  readonly disp: number;
  readonly size: number;
  /** Whether the offset lies past every old access on that argument (not in a hole). */
  readonly past: boolean;
  /** End of the old accesses on that argument (offset + size of the furthest). */
  readonly oldEnd: number;
  /** Distinct old offsets accessed through that argument, sorted (the uncertain accesses left out). */
  readonly oldOffsets: readonly number[];
  /** Whether an old access a callee may have replaced (ArgAccess.uncertain) is all that would cover it. */
  readonly replaced?: true;
}

export const ARG_REGISTERS: ReadonlyArray<readonly [Register, number]> = [
  [Register.RCX, 1],
  [Register.RDX, 2],
  [Register.R8, 3],
  [Register.R9, 4],
];
/** Registers a call may overwrite (Microsoft x64: volatile general-purpose registers). */
/** Instructions whose first register operand is only read. */
const READS_OP0 = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Push, Mnemonic.Bt]);
const WRITE_ACCESS = new Set<number>([OpAccess.Write, OpAccess.ReadWrite, OpAccess.CondWrite, OpAccess.ReadCondWrite]);
let infoFactory: InstructionInfoFactory | null = null;
/** What instructions of one iced Code write besides their first operand. */
interface CodeWrites {
  /** General registers (full) written though no operand names them: cdqe's rax, movsb's rsi and rdi, cpuid's four. */
  readonly implicit: readonly number[];
  /** Register operands after the first that are written (xchg's and xadd's second, mulx's second). */
  readonly ops: readonly number[];
}
/**
 * Per iced Code, read once from iced-x86's InstructionInfoFactory (added-field-writes.test.ts
 * sweeps the opcode maps against it): `mov rax,rdx; cmpxchg [rcx],r8; mov rsi,[rax+0x10]` reads
 * no field of arg2, cmpxchg leaves the memory's old value in rax.
 */
const writesByCode: Array<CodeWrites | undefined> = [];
function codeWrites(insn: Instruction): CodeWrites {
  let w = writesByCode[insn.code];
  if (w !== undefined) return w;
  infoFactory ??= new InstructionInfoFactory();
  const info = infoFactory.info(insn);
  const named = new Set<number>();
  const ops: number[] = [];
  for (let i = 0; i < insn.opCount; i++) {
    if (insn.opKind(i) !== OpKind.Register || !WRITE_ACCESS.has(info.opAccess(i))) continue;
    named.add(fullRegister(insn.opRegister(i)));
    if (i > 0) ops.push(i);
  }
  const implicit = new Set<number>();
  const used = info.usedRegisters();
  for (const u of used) {
    const f = fullRegister(u.register);
    if (WRITE_ACCESS.has(u.access) && f >= Register.RAX && f <= Register.R15 && f !== Register.RSP && !named.has(f)) implicit.add(f);
    u.free();
  }
  // cmpxchg writes rax whatever its first operand, which may be rax itself in the instance read.
  if (insn.mnemonic === Mnemonic.Cmpxchg) implicit.add(Register.RAX);
  writesByCode[insn.code] = w = { implicit: [...implicit], ops };
  return w;
}

const fullRegs = new Int32Array(0x100).fill(-1);
/** The 64-bit register `r` is part of (cached). */
export function fullRegister(r: Register): number {
  let f = fullRegs[r] ?? -1;
  if (f < 0) fullRegs[r] = f = RegisterExt.fullRegister(r);
  return f;
}

/** Where one instruction of a body lies in the image. */
interface InsnSpan {
  readonly rva: number;
  readonly length: number;
}

const NO_TABLES: ReadonlyMap<number, readonly number[]> = new Map();

/**
 * The field accesses through the pointers a body received, in address order: `insns` are
 * the body's instructions in `image` (the mapped image's bytes, indexed by RVA), `entry` where
 * it is entered (default: its lowest instruction), `tables` the targets of its indirect jumps.
 * Which argument a register holds is followed on the body's paths (arg-hold-paths.ts): an
 * access made on any path counts.
 */
export function argAccessesOf(image: Uint8Array, insns: readonly InsnSpan[], entry: number = spanOf(insns).lo, tables: ReadonlyMap<number, readonly number[]> = NO_TABLES): ArgAccess[] {
  if (insns.length === 0) return [];
  const body = scanWithSlotPolicy((policy) => readBody(image, insns, policy));
  if (body === null) return [];
  const before = argHoldsByPath(entry, body.steps, tables);
  const spanned = spannedReadings(entry, body, tables, before);
  const out: ArgAccess[] = [];
  for (const c of body.candidates) {
    const held = before.get(c.rva);
    if (held === undefined) continue;
    const every = argOf(held, c.base);
    const some = argsOnSomePath(held, c.base);
    for (let arg = 1; arg <= 4; arg++) {
      if ((some & (1 << (arg - 1))) === 0) continue;
      const x: ArgAccess = arg === every ? { arg, disp: c.disp, size: c.size, kind: c.kind, move: c.move } : { arg, disp: c.disp, size: c.size, kind: c.kind, move: c.move, some: true };
      const u = spanned === null ? null : uncertainty(spanned, c, arg);
      const y = u === null ? x : { ...x, ...u };
      out.push(c.use === undefined ? y : { ...y, use: c.use });
    }
  }
  return out;
}

/** More slots than this, and an uncertain access names none (each slot costs one more walk of the paths). */
const MAX_SLOT_WALKS = 8;

/** The holds with no reload from a spanned slot followed (`all`), and with those of one slot only, per slot (null: too many slots). */
interface SpannedReadings {
  readonly all: ReadonlyMap<number, ArgHolds>;
  readonly bySlot: ReadonlyMap<number, ReadonlyMap<number, ArgHolds>> | null;
}

/** Null when no reload from a spanned slot gives an argument (`before`: the holds with every reload followed). */
function spannedReadings(entry: number, body: BodyReading, tables: ReadonlyMap<number, readonly number[]>, before: ReadonlyMap<number, ArgHolds>): SpannedReadings | null {
  // Only the reloads whose slot holds an argument on the paths reaching them change anything.
  const reloads = new Map<number, number>();
  for (const [rva, k] of body.spannedReloads) {
    const e = body.steps.get(rva);
    if (e !== undefined && before.get(rva)?.slots.get(e.reloadFrom) !== undefined) reloads.set(rva, k);
  }
  if (reloads.size === 0) return null;
  const all = argHoldsByPath(entry, withoutReloads(body.steps, reloads, null), tables);
  const slots = new Set(reloads.values());
  if (slots.size > MAX_SLOT_WALKS) return { all, bySlot: null };
  const bySlot = new Map<number, ReadonlyMap<number, ArgHolds>>();
  for (const k of slots) bySlot.set(k, slots.size === 1 ? all : argHoldsByPath(entry, withoutReloads(body.steps, reloads, k), tables));
  return { all, bySlot };
}

/** Whether candidate `c`'s access on `arg` needs a reload from a spanned slot, and which slots' (see ArgAccess.uncertain, slots); null: it does not. */
function uncertainty(r: SpannedReadings, c: Candidate, arg: number): { uncertain: true; slots?: readonly number[] } | null {
  const bit = 1 << (arg - 1);
  const gives = (holds: ReadonlyMap<number, ArgHolds>): boolean => (argsOnSomePath(holds.get(c.rva) ?? NO_HOLDS, c.base) & bit) !== 0;
  if (gives(r.all)) return null;
  const needed = r.bySlot === null ? [] : [...r.bySlot].filter(([, h]) => !gives(h)).map(([k]) => k);
  return needed.length > 0 ? { uncertain: true, slots: needed.sort((a, b) => a - b) } : { uncertain: true };
}

/** `steps` with the reloads of `reloads` (RVA -> slot; only slot `only`'s when not null) loading nothing the paths follow (their register still overwritten). */
function withoutReloads(steps: ReadonlyMap<number, HoldStepAt>, reloads: ReadonlyMap<number, number>, only: number | null): Map<number, HoldStepAt> {
  const out = new Map(steps);
  for (const [rva, k] of reloads) {
    const e = steps.get(rva);
    if (e !== undefined && (only === null || k === only)) out.set(rva, { ...e, reloadDst: -1, reloadFrom: -1 });
  }
  return out;
}

/** Instructions whose memory operand is no access (a multi-byte nop read [rax+0] as a field: swc-html 1.15.33's 0x7bb970). */
const NO_ACCESS = new Set<number>([Mnemonic.Nop, Mnemonic.Prefetchnta, Mnemonic.Prefetcht0, Mnemonic.Prefetcht1, Mnemonic.Prefetcht2, Mnemonic.Prefetchw]);

/** A memory operand that is a field access when its base register holds an argument. */
interface Candidate {
  readonly rva: number;
  /** The base's general register number (rax 0 .. r15 15). */
  readonly base: number;
  readonly disp: number;
  readonly size: number;
  readonly kind: 0 | 1 | 2;
  readonly move: boolean;
  use?: PointerUse;
}

/** A body read once in address order: each instruction's effect on the registers and followed slots, and its candidate accesses. */
interface BodyReading {
  readonly steps: Map<number, HoldStepAt>;
  readonly candidates: readonly Candidate[];
  /** The reloads from a slot an object handed out may span (frame-slots.ts `mayBeSpanned`): RVA -> where the slot lies in that object (`spanPosition`). */
  readonly spannedReloads: ReadonlyMap<number, number>;
}

/**
 * The frame's view of the argument registers, for frame-slots.ts in address order: what a
 * store reads from a register is named by the store's RVA, and a reload hands that name back.
 * Which argument it is depends on the path (arg-hold-paths.ts), not on the address order.
 */
class SlotRecorder extends Map<number, number> {
  at = 0;
  storeSrc = -1;
  reloadDst = -1;
  reloadFrom = -1;
  override get(r: number): number | undefined {
    if (!RegisterExt.isGPR64(r)) return undefined;
    this.storeSrc = r - Register.RAX;
    return this.at;
  }
  override set(r: number, store: number): this {
    if (RegisterExt.isGPR64(r)) [this.reloadDst, this.reloadFrom] = [r - Register.RAX, store];
    return this;
  }
}

/** Null for an MSVC funclet (see the module head). */
function readBody(image: Uint8Array, insns: readonly InsnSpan[], policy: SlotPolicy): { result: BodyReading | null; again: SlotPolicy | null } {
  const frame = new FrameSlots(policy);
  const recorder = new SlotRecorder();
  const probe = new Map<number, number>();
  const uses = new PointerUseTracker();
  const steps = new Map<number, HoldStepAt>();
  const candidates: Candidate[] = [];
  /** By a reload's RVA, the frame offset of the slot it reads. */
  const reloadSlots = new Map<number, number>();
  let count = 0;
  let pushedRbp = false;
  let funclet = false;
  decodeEach(image, insns, (insn, d) => {
    if (funclet) return;
    // MSVC's funclet prologue (`push rbp; sub rsp,0x20; mov rbp,rdx`): rdx is the parent's
    // frame, and the body's `[rbp+x]` are its stack slots, not fields of a structure.
    if (count++ < 4 && insn.opCount > 0 && insn.op0Kind === OpKind.Register && insn.op0Register === Register.RBP) {
      if (insn.mnemonic === Mnemonic.Push) pushedRbp = true;
      else if (pushedRbp && insn.mnemonic === Mnemonic.Mov && insn.op1Kind === OpKind.Register && insn.op1Register === Register.RDX) funclet = true;
    }
    const c = candidateOf(insn, d.rva);
    if (c !== null) {
      uses.access(insn, candidates.length, c.size);
      candidates.push(c);
    }
    uses.step(insn);
    const { kills, copyDst, copySrc } = holdsEffect(insn, probe);
    recorder.at = d.rva;
    recorder.storeSrc = recorder.reloadDst = recorder.reloadFrom = -1;
    frame.step(insn, recorder);
    if (recorder.reloadDst >= 0 && frame.lastAccess !== null) reloadSlots.set(d.rva, frame.lastAccess.at);
    const fl = insn.flowControl;
    const target = (fl === FlowControl.ConditionalBranch || fl === FlowControl.UnconditionalBranch) && insn.op0Kind === OpKind.NearBranch64 ? Number(insn.nearBranchTarget) : -1;
    steps.set(d.rva, { rva: d.rva, next: d.rva + d.length, flow: fl, target, kills, copyDst, copySrc, storeSrc: recorder.storeSrc, reloadDst: recorder.reloadDst, reloadFrom: recorder.reloadFrom });
  });
  if (funclet) return { result: null, again: null };
  // Only the stores some reload reads carry an argument along the paths.
  const read = new Set<number>();
  for (const e of steps.values()) if (e.reloadDst >= 0) read.add(e.reloadFrom);
  for (const e of steps.values()) if (e.storeSrc >= 0 && !read.has(e.rva)) steps.set(e.rva, { ...e, storeSrc: -1 });
  for (const [k, use] of uses.uses) candidates[k]!.use = use;
  const spannedReloads = new Map<number, number>();
  for (const [rva, k] of reloadSlots) {
    const at = frame.spanPosition(k);
    if (at !== null) spannedReloads.set(rva, at);
  }
  return { result: { steps, candidates, spannedReloads }, again: frame.verdict() };
}

/** The instruction's first memory operand, when it can be a field access: a 64-bit base (not rip), no index, a displacement not negative. */
function candidateOf(insn: Instruction, rva: number): Candidate | null {
  // Padding (`nopl 0x0(%rax)`) and prefetch hints name an address but access no memory.
  if (NO_ACCESS.has(insn.mnemonic)) return null;
  const n = insn.opCount;
  for (let k = 0; k < n; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory) continue;
    const b = insn.memoryBase;
    if (!RegisterExt.isGPR64(b) || insn.memoryIndex !== Register.None) return null;
    const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
    if (disp < 0) return null;
    const lea = insn.mnemonic === Mnemonic.Lea;
    return { rva, base: b - Register.RAX, disp, size: lea ? 0 : MemorySizeExt.size(insn.memorySize), kind: lea ? 0 : kindOf(insn), move: MOVES.has(insn.mnemonic) };
  }
  return null;
}

/** updateHolds' effect on the general registers, read off a map where each holds itself: those it forgets, and a copy. */
function holdsEffect(insn: Instruction, probe: Map<number, number>): { kills: number; copyDst: number; copySrc: number } {
  for (let g = 0; g < 16; g++) probe.set(Register.RAX + g, Register.RAX + g);
  updateHolds(insn, probe);
  let kills = 0;
  let copyDst = -1;
  let copySrc = -1;
  for (let g = 0; g < 16; g++) {
    const v = probe.get(Register.RAX + g);
    if (v === Register.RAX + g) continue;
    kills |= 1 << g;
    if (v !== undefined) [copyDst, copySrc] = [g, v - Register.RAX];
  }
  return { kills, copyDst, copySrc };
}

/** Forgets the registers `insn` overwrites, and follows 64-bit copies of the ones `holds` maps to an argument. */
export function updateHolds(insn: Instruction, holds: Map<number, number>): void {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Call) {
    for (const r of VOLATILE_REGISTERS) holds.delete(r);
    return;
  }
  const w = codeWrites(insn);
  for (const r of w.implicit) holds.delete(r);
  for (const i of w.ops) holds.delete(fullRegister(insn.opRegister(i)));
  // A rep prefix counts rcx down; the Code is the same without it.
  if (insn.hasRepPrefix || insn.hasRepePrefix || insn.hasRepnePrefix) holds.delete(Register.RCX);
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || READS_OP0.has(mn)) return;
  const dst = fullRegister(insn.op0Register);
  // A 64-bit copy of a register holding an argument holds it too.
  if (mn === Mnemonic.Mov && insn.opCount === 2 && insn.op1Kind === OpKind.Register && insn.op0Register === dst && insn.op1Register === fullRegister(insn.op1Register)) {
    const src = holds.get(insn.op1Register);
    if (src !== undefined) {
      holds.set(dst, src);
      return;
    }
  }
  holds.delete(dst);
}

/**
 * The first access of `na` (the new body's argument accesses) at an offset no access of `oa`
 * (the old body's) covers on the same argument, or null. An argument the old body never
 * dereferences gives no evidence (nothing says it is the same structure, or a structure).
 * Accesses made on some paths only (ArgAccess.some) count on both sides: the new body makes
 * them (a list walked from the argument reads the first node's fields), and the old body's
 * say which fields the old code uses through that argument.
 *
 * An old access through a reload a callee may have replaced (ArgAccess.uncertain) covers no
 * offset: it may be another object's (probe field-box's `[b.obj+0x10]`, the +0x10 v2 adds to r).
 * It still counts as the old body dereferencing the argument: dropping it there could only turn
 * a refusal into a verdict of safe, and when it is another object's, the argument's own new
 * access is refused as not covered, the safe side. The new body's uncertain accesses count as
 * accesses (a new access is refused unless covered; more of them only refuse more), and an old
 * uncertain access covers a new uncertain one at its offset made through a reload of the same
 * frame slots (ArgAccess.slots, by their place in the object): the same reload on both sides, the argument's in both bodies or,
 * when a callee replaced it, no access of the argument at all. Through another slot it covers
 * nothing: clang -O0's field-box spills r beside the box, in what may be the box's bytes, and
 * v2 reads r->c through that spill, v1's `[b.obj+0x10]` through b.obj's.
 */
export function findAddedField(oa: readonly ArgAccess[], na: readonly ArgAccess[]): AddedField | null {
  const old = new Map<number, ArgAccess[]>();
  for (const x of oa) {
    const l = old.get(x.arg) ?? [];
    l.push(x);
    old.set(x.arg, l);
  }
  for (const y of na) {
    if (y.size === 0) continue;
    const l = old.get(y.arg);
    if (l === undefined || !l.some((x) => x.size > 0)) continue;
    // Covered: an old access at the same offset, or one whose bytes contain the new access
    // (an old `lea` of the field counts as touching its first byte).
    const covers = (x: ArgAccess): boolean => x.disp === y.disp || (y.disp >= x.disp && y.disp + y.size <= x.disp + Math.max(x.size, 1));
    const sure = l.filter((x) => x.uncertain !== true);
    // A new access through such reloads is covered by an old one through the same slots (twin
    // field-box-fix: both bodies read `[b.obj+0x10]` after reloading b.obj from [rsp+0x28]).
    const sameReload = (x: ArgAccess): boolean => y.uncertain === true && y.slots !== undefined && x.slots !== undefined && x.slots.join() === y.slots.join();
    if (l.some((x) => (x.uncertain !== true || sameReload(x)) && covers(x))) continue;
    const oldEnd = Math.max(0, ...sure.map((x) => x.disp + Math.max(x.size, 1)));
    const oldOffsets = [...new Set(sure.map((x) => x.disp))].sort((a, b) => a - b);
    const a: AddedField = { arg: y.arg, disp: y.disp, size: y.size, past: y.disp >= oldEnd, oldEnd, oldOffsets };
    return l.some(covers) ? { ...a, replaced: true } : a;
  }
  return null;
}

/** The reason text of an added field (the STRUCTURE_FIELD_ADDED message's head). */
export function describeAddedField(a: AddedField): string {
  const at = `[arg${a.arg}+${hex(a.disp)}]`;
  const last = a.oldOffsets[a.oldOffsets.length - 1];
  const where =
    last === undefined
      ? 'an offset the old function never accesses on that pointer'
      : a.past
        ? `past the old function's last field access +${hex(last)} on that pointer`
        : `an offset the old function never accesses on that pointer (it accesses ${a.oldOffsets.map((x) => `+${hex(x)}`).join(', ')})`;
  // The old access at that offset goes through a frame slot inside an object the old body handed to a callee.
  const replaced = a.replaced === true ? '; the old access there reloads the pointer from a frame object handed to a callee, which may have replaced it' : '';
  return `structure layout changed: accesses ${at} (${a.size} bytes), ${where}${replaced} (a field added; needs a baseline)`;
}

/** argAccessesOf over one function's decoded body, from its entry, with its jump tables. */
export function functionAccessesOf(image: Uint8Array, fn: FunctionInfo): ArgAccess[] {
  const tables = new Map<number, readonly number[]>(fn.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
  return argAccessesOf(image, fn.decoded.insns, fn.entry, tables);
}

/**
 * argAccessesOf over one function's decoded body, once per function: the layout rules
 * (added field, retyped field) and the swapped-pointer argument rule each read them.
 * `img` is the image `fn` belongs to.
 */
const accessesByFunction = new WeakMap<FunctionInfo, ArgAccess[]>();
export function functionArgAccesses(img: MappedImage, fn: FunctionInfo): readonly ArgAccess[] {
  let a = accessesByFunction.get(fn);
  if (a === undefined) accessesByFunction.set(fn, (a = functionAccessesOf(img.image, fn)));
  return a;
}
