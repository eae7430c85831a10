/**
 * What each instruction of a decoded function does to the volatile registers of the x64
 * calling convention (Microsoft's, which mingw GCC and clang use on Windows): rax, rcx, rdx,
 * r8-r11 and xmm0-5 as a 13-bit mask. Flags are left out (no compiler keeps a flag across a
 * call). For caller-registers.ts: which volatile registers a function writes (its own part of
 * what it clobbers), and which it reads before writing after a call site (what a caller keeps
 * across a call, as GCC's interprocedural register allocation lets it).
 *
 * Reads and writes come from iced-x86's InstructionInfoFactory, with three corrections that
 * keep ordinary code from looking as if it read a register it only writes:
 * - a write of a general-purpose register of any width (`mov cl, al` as well as `mov ecx,
 *   eax`) ends the old value's life: no compiler keeps a value in rcx, writes cl and then
 *   reads the merge;
 * - `sbb r, r` (the carry as 0 / -1) does not read r;
 * - scalar SSE instructions that merge into their destination's upper lanes (`cvtsi2sd`,
 *   `movss xmm, xmm`, `sqrtsd`, ...) write it: the upper lanes of a scalar are never a value.
 */
import { Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type UsedRegister } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';

/** Bits of the volatile register mask. */
export const REG_BITS: ReadonlyArray<readonly [Register, string]> = [
  [Register.RAX, 'rax'],
  [Register.RCX, 'rcx'],
  [Register.RDX, 'rdx'],
  [Register.R8, 'r8'],
  [Register.R9, 'r9'],
  [Register.R10, 'r10'],
  [Register.R11, 'r11'],
  [Register.ZMM0, 'xmm0'],
  [Register.ZMM1, 'xmm1'],
  [Register.ZMM2, 'xmm2'],
  [Register.ZMM3, 'xmm3'],
  [Register.ZMM4, 'xmm4'],
  [Register.ZMM5, 'xmm5'],
];
/** Every volatile register. */
export const ALL_VOLATILE = (1 << REG_BITS.length) - 1;
/** The argument registers a callee may read: rcx, rdx, r8, r9, xmm0-3. */
export const ARG_REGS = 0b0000_1111_0001_110;
/** What a return hands back: rax and xmm0. */
export const RETURN_REGS = 0b0000_0001_0000_001;

const bitOfFull = new Map<number, number>(REG_BITS.map(([r], i) => [r, 1 << i]));

/** The mask's registers by name, in mask order (`rdx, r8`). */
export function regNames(mask: number): string {
  return REG_BITS.filter((_, i) => (mask & (1 << i)) !== 0)
    .map(([, n]) => n)
    .join(', ');
}

/** Scalar SSE instructions whose destination keeps its upper lanes (a merge, not a read of a value). */
const MERGES = new Set<number>([
  Mnemonic.Cvtsi2sd, Mnemonic.Cvtsi2ss, Mnemonic.Cvtss2sd, Mnemonic.Cvtsd2ss, Mnemonic.Sqrtsd, Mnemonic.Sqrtss,
  Mnemonic.Rcpss, Mnemonic.Rsqrtss, Mnemonic.Roundsd, Mnemonic.Roundss, Mnemonic.Movss, Mnemonic.Movsd,
]);

/** One instruction's effect on the volatile registers, and where control goes. */
export interface RegEffect {
  readonly rva: number;
  readonly next: number;
  readonly flow: FlowControl;
  /** Registers read before the instruction writes them. */
  readonly reads: number;
  /** Registers whose old value the instruction ends (written whole, or any GPR write). */
  readonly kills: number;
  /** Registers written in any way (own clobbers). */
  readonly writes: number;
  /** Direct branch or call target (rel8/rel32), or -1. */
  readonly target: number;
}

const factory = new InstructionInfoFactory();
/** Compares that give all ones when both operands are one register. */
const ALL_ONES = new Set<number>([Mnemonic.Pcmpeqb, Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pcmpeqq]);

/** The effect of the instruction decoded into `insn` (at `rva`, `length` bytes), which uses the registers `used`. */
function effectOf(insn: Instruction, used: readonly UsedRegister[], rva: number, length: number, flow: FlowControl): RegEffect {
  let reads = 0;
  let kills = 0;
  let writes = 0;
  const mn = insn.mnemonic;
  // Operand count and the first two kinds, read from iced once (each read is a call into its wasm heap).
  const count = insn.opCount;
  const kind0 = count > 0 ? insn.op0Kind : OpKind.Register;
  const kind1 = count > 1 ? insn.op1Kind : OpKind.Register;
  const regReg = count === 2 && kind0 === OpKind.Register && kind1 === OpKind.Register;
  // movss/movsd from memory write the whole register (iced says so); reg-reg forms merge.
  const merge = MERGES.has(mn) && count >= 2 && kind0 === OpKind.Register && ((mn !== Mnemonic.Movss && mn !== Mnemonic.Movsd) || kind1 === OpKind.Register);
  const mergeDst = merge ? RegisterExt.fullRegister(insn.op0Register) : -1;
  const sbbSelf = mn === Mnemonic.Sbb && regReg && insn.op0Register === insn.op1Register;
  // `pcmpeqd xmm1, xmm1` sets all ones whatever xmm1 held (clang's `+ 1` of a vector loop, probe
  // entry-args-pshapes copyn_fix): a write, not a read of an xmm argument.
  const onesSelf = ALL_ONES.has(mn) && regReg && insn.op0Register === insn.op1Register;
  for (const u of used) {
    const full = RegisterExt.fullRegister(u.register);
    const bit = bitOfFull.get(full) ?? 0;
    if (bit === 0) continue;
    const a = u.access;
    const isGpr = RegisterExt.isGPR(u.register);
    if (full === mergeDst || (sbbSelf && isGpr) || onesSelf) {
      kills |= bit;
      writes |= bit;
      continue;
    }
    // Sources are read before the destination is written, whatever order iced lists them in
    // (`mov rcx, [rcx+8]` comes as RCX:Write then RCX:Read).
    if (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) reads |= bit;
    if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) writes |= bit;
    if (a === OpAccess.Write || (a === OpAccess.ReadWrite && isGpr)) kills |= bit;
  }
  const direct = flow === FlowControl.Call || flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch;
  const target = direct && count > 0 && (kind0 === OpKind.NearBranch64 || kind0 === OpKind.NearBranch32) ? Number(insn.nearBranchTarget) : -1;
  return { rva, next: rva + length, flow, reads, kills, writes, target };
}

/** Where one instruction lies and how control leaves it (a DecodedInsn). */
export interface InsnAt {
  readonly rva: number;
  readonly length: number;
  readonly flow: FlowControl;
}

/** The byte span [lo, hi) that `insns` cover (hi <= lo when there are none). */
export function spanOf(insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>): { lo: number; hi: number } {
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const d of insns) {
    lo = Math.min(lo, d.rva);
    hi = Math.max(hi, d.rva + d.length);
  }
  return { lo, hi };
}

/** A gap between a function's instructions past which they are decoded from separate windows. */
const WINDOW_GAP = 0x1000;

/**
 * Decodes each instruction `insns` lists from `image` (bytes indexed by RVA) and hands it to
 * `visit`, in address order. The decoder copies its input into the wasm heap, so a function
 * whose parts lie far apart (a cold part megabytes away) is decoded from one window per part,
 * not from the whole span between them.
 */
export function decodeEach<T extends Pick<InsnAt, 'rva' | 'length'>>(image: Uint8Array, insns: readonly T[], visit: (insn: Instruction, d: T) => void): void {
  let inOrder = true;
  for (let k = 1; k < insns.length && inOrder; k++) inOrder = insns[k]!.rva >= insns[k - 1]!.rva;
  const sorted = inOrder ? insns : [...insns].sort((a, b) => a.rva - b.rva);
  const insn = new Instruction();
  try {
    for (let s = 0; s < sorted.length; ) {
      let e = s + 1;
      let hi = sorted[s]!.rva + sorted[s]!.length;
      while (e < sorted.length && sorted[e]!.rva <= hi + WINDOW_GAP) hi = Math.max(hi, sorted[e]!.rva + sorted[e++]!.length);
      const lo = sorted[s]!.rva;
      const decoder = new Decoder(64, image.subarray(lo, hi), DecoderOptions.None);
      try {
        // Where the decoder stands (it moves past each instruction it decodes, ip and
        // position alike): placed only when the next instruction is elsewhere.
        let at = -1;
        for (let k = s; k < e; k++) {
          const d = sorted[k]!;
          if (d.rva !== at) {
            decoder.position = d.rva - lo;
            decoder.ip = BigInt(d.rva);
          }
          decoder.decodeOut(insn);
          at = d.rva + insn.length;
          visit(insn, d);
        }
      } finally {
        decoder.free();
      }
      s = e;
    }
  } finally {
    insn.free();
  }
}

/**
 * Per-instruction work another analysis does on a decode this module makes (argument-roles.ts's
 * role evidence): the instruction and the registers it uses, valid during the call only.
 */
export type InsnRider = (insn: Instruction, used: readonly UsedRegister[], d: InsnAt) => void;

/**
 * Hands each instruction `insns` lists, decoded from `image`, with the registers it uses to
 * `visit`: one InstructionInfo per instruction, freed here, not left to the finalizers (over a
 * large image they cost more than the analyses: minutes of garbage collection on swc-html).
 */
export function decodeUsed<T extends InsnAt>(image: Uint8Array, insns: readonly T[], visit: (insn: Instruction, used: readonly UsedRegister[], d: T) => void): void {
  decodeEach(image, insns, (insn, d) => withUsedRegisters(insn, (used) => visit(insn, used, d)));
}

/** `f` of the registers `insn` uses, the iced objects freed after the call. */
export function withUsedRegisters<R>(insn: Instruction, f: (used: readonly UsedRegister[]) => R): R {
  const info = factory.info(insn);
  const used = info.usedRegisters();
  try {
    return f(used);
  } finally {
    for (const u of used) u.free();
    info.free();
  }
}

/** The effect of each instruction `insns` lists, decoded from `image` (bytes indexed by RVA); `riders` see each instruction too. */
export function decodeEffects(image: Uint8Array, insns: readonly InsnAt[], riders: readonly InsnRider[] = []): Map<number, RegEffect> {
  const out = new Map<number, RegEffect>();
  decodeUsed(image, insns, (insn, used, d) => {
    out.set(d.rva, effectOf(insn, used, d.rva, d.length, d.flow));
    for (const r of riders) r(insn, used, d);
  });
  return out;
}

/** Register effects of one image's functions, decoded once each. */
export class RegisterEffects {
  private readonly cache = new Map<number, ReadonlyMap<number, RegEffect>>();
  private readonly riders: Array<(f: FunctionInfo) => InsnRider> = [];
  constructor(private readonly image: Uint8Array) {}

  /**
   * Has each function this decodes from now on also go through `start(f)`'s rider: another
   * analysis of the same functions (argument-roles.ts) shares the decode and the register
   * lists, the costly part of both.
   */
  ride(start: (f: FunctionInfo) => InsnRider): void {
    this.riders.push(start);
  }

  /** The effect of every decoded instruction of `f`, by RVA. */
  of(f: FunctionInfo): ReadonlyMap<number, RegEffect> {
    let hit = this.cache.get(f.index);
    if (hit === undefined) this.cache.set(f.index, (hit = decodeEffects(this.image, f.decoded.insns, this.riders.map((start) => start(f)))));
    return hit;
  }

  /** The volatile registers `f`'s own instructions write (callees not included). */
  ownWrites(f: FunctionInfo): number {
    let w = 0;
    for (const e of this.of(f).values()) w |= e.writes;
    return w;
  }
}

/** The register effects of OLD and NEW, shared by the rules of one diff (each function decoded once). */
export interface ImageEffects {
  readonly old: RegisterEffects;
  readonly new: RegisterEffects;
}
