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
 * r9 at entry, or a register it was copied to, followed in address order until overwritten or
 * a call clobbers it; or a frame slot it was spilled to and the register reloaded from it, as
 * -O0 code does before every access: frame-slots.ts), that the old body dereferences too (at
 * least one field access on the same argument, so both sides agree the argument is a
 * structure pointer), and that the new body accesses (reads or writes, not `lea`) at an
 * offset no old access covers. Stack operands are never fields themselves (the argument
 * registers are not the stack pointer), nor indexed or negative displacements (arrays and rebased pointers), nor exception-handling funclets
 * (their rdx is the parent's frame: the verdict skips the funclets the handler data names,
 * and a body opening with MSVC's funclet prologue gives no accesses here). The code alone cannot tell a field
 * added to the structure from an existing field the fix starts to use, so both are refused:
 * the running objects were built by old code, which the patch does not change.
 */
import { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, MemorySize, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import { FrameSlots, type SlotPolicy, scanWithSlotPolicy } from './frame-slots.ts';
import { PointerUseTracker, type PointerUse } from './pointer-uses.ts';
import { spanOf } from './register-effects.ts';
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
  /** Distinct old offsets accessed through that argument, sorted. */
  readonly oldOffsets: readonly number[];
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

/**
 * The field accesses through the pointers a body received, in address order: `insns` are
 * the body's instructions in `image` (the mapped image's bytes, indexed by RVA).
 */
export function argAccessesOf(image: Uint8Array, insns: readonly InsnSpan[]): ArgAccess[] {
  return scanWithSlotPolicy((policy) => scanAccesses(image, insns, policy));
}

function scanAccesses(image: Uint8Array, insns: readonly InsnSpan[], policy: SlotPolicy): { result: ArgAccess[]; again: SlotPolicy | null } {
  const out: ArgAccess[] = [];
  const { lo, hi } = spanOf(insns);
  if (hi <= lo) return { result: out, again: null };
  // Full register -> argument it holds.
  const holds = new Map<number, number>(ARG_REGISTERS);
  const frame = new FrameSlots(policy);
  const decoder = new Decoder(64, image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  const uses = new PointerUseTracker();
  try {
    let next = -1;
    let count = 0;
    let pushedRbp = false;
    for (const d of insns) {
      if (d.rva !== next) {
        decoder.position = d.rva - lo;
        decoder.ip = BigInt(d.rva);
      }
      decoder.decodeOut(insn);
      next = d.rva + d.length;
      if (holds.size === 0 && !frame.holdsAny()) break;
      // MSVC's funclet prologue (`push rbp; sub rsp,0x20; mov rbp,rdx`): rdx is the parent's
      // frame, and the body's `[rbp+x]` are its stack slots, not fields of a structure.
      if (count++ < 4 && insn.opCount > 0 && insn.op0Kind === OpKind.Register && insn.op0Register === Register.RBP) {
        if (insn.mnemonic === Mnemonic.Push) pushedRbp = true;
        else if (pushedRbp && insn.mnemonic === Mnemonic.Mov && insn.op1Kind === OpKind.Register && insn.op1Register === Register.RDX) return { result: [], again: null };
      }
      const had = out.length;
      recordAccess(insn, holds, out);
      if (out.length > had) uses.access(insn, had, out[had]!.size);
      uses.step(insn);
      updateHolds(insn, holds);
      frame.step(insn, holds);
    }
  } finally {
    insn.free();
    decoder.free();
  }
  const again = frame.verdict();
  return {
    result: uses.uses.size === 0 ? out : out.map((x, k) => {
      const use = uses.uses.get(k);
      return use === undefined ? x : { ...x, use };
    }),
    again,
  };
}

function recordAccess(insn: Instruction, holds: ReadonlyMap<number, number>, out: ArgAccess[]): void {
  const n = insn.opCount;
  for (let k = 0; k < n; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory) continue;
    const b = insn.memoryBase;
    if (b === Register.None || b === Register.RIP || insn.memoryIndex !== Register.None) return;
    const arg = holds.get(b);
    if (arg === undefined) return;
    const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
    if (disp < 0) return;
    const lea = insn.mnemonic === Mnemonic.Lea;
    out.push({ arg, disp, size: lea ? 0 : MemorySizeExt.size(insn.memorySize), kind: lea ? 0 : kindOf(insn), move: MOVES.has(insn.mnemonic) });
    return;
  }
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
    if (l.some((x) => x.disp === y.disp || (y.disp >= x.disp && y.disp + y.size <= x.disp + Math.max(x.size, 1)))) continue;
    const oldEnd = Math.max(...l.map((x) => x.disp + Math.max(x.size, 1)));
    const oldOffsets = [...new Set(l.map((x) => x.disp))].sort((a, b) => a - b);
    return { arg: y.arg, disp: y.disp, size: y.size, past: y.disp >= oldEnd, oldEnd, oldOffsets };
  }
  return null;
}

/** The reason text of an added field (the STRUCTURE_FIELD_ADDED message's head). */
export function describeAddedField(a: AddedField): string {
  const at = `[arg${a.arg}+${hex(a.disp)}]`;
  const last = a.oldOffsets[a.oldOffsets.length - 1] ?? 0;
  const where = a.past
    ? `past the old function's last field access +${hex(last)} on that pointer`
    : `an offset the old function never accesses on that pointer (it accesses ${a.oldOffsets.map((x) => `+${hex(x)}`).join(', ')})`;
  return `structure layout changed: accesses ${at} (${a.size} bytes), ${where} (a field added; needs a baseline)`;
}

/**
 * argAccessesOf over one function's decoded body, once per function: the layout rules
 * (added field, retyped field) and the swapped-pointer argument rule each read them.
 * `img` is the image `fn` belongs to.
 */
const accessesByFunction = new WeakMap<FunctionInfo, ArgAccess[]>();
export function functionArgAccesses(img: MappedImage, fn: FunctionInfo): readonly ArgAccess[] {
  let a = accessesByFunction.get(fn);
  if (a === undefined) accessesByFunction.set(fn, (a = argAccessesOf(img.image, fn.decoded.insns)));
  return a;
}
