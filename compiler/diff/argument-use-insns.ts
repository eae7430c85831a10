/**
 * One decoded instruction as argument-uses.ts' search over paths reads it (UseInsn): the
 * argument locations (general and xmm registers, numbered) and frame slots it reads, writes,
 * copies, spills, reloads, loads through or computes from, and the use tokens each read names.
 * Evidence: iced's operand accesses and used registers (implicit reads and writes: `cqo`,
 * `mul`'s rdx, a call's rax), the frame slot numbering of one function (spillSlots), constant
 * bytes a RIP-relative operand reads, and writable globals by their identity through the
 * diff's data match (matchedGlobalNames).
 */
import { FlowControl, InstructionInfoFactory, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';
import type { MatchResult } from '../match/match-images.ts';
import { IMMEDIATE_KINDS, opAccessOf, opKindOf, opRegisterOf } from '../disasm/operands.ts';
import { type AddressMove, addressMoveOf, type AddressRegisters, type FrameAddress, type FrameEscape, frameEscapeOf } from './frame-escape.ts';

export type { FrameEscape } from './frame-escape.ts';

/** Location numbers: GPRs 0..15 (rax..r15), xmm registers 16..31. */
export const XMM = 16;
export const RAX = 0;
export const RSP = 4;
/** The argument registers of slot k: rcx, rdx, r8, r9 and xmm0-3. */
export const SLOT_GPR = [1, 2, 8, 9] as const;

const factory = new InstructionInfoFactory();

export function locOf(r: Register): number {
  if (r >= Register.XMM0 && r <= Register.XMM15) return XMM + (r - Register.XMM0);
  if (r >= Register.YMM0 && r <= Register.YMM15) return XMM + (r - Register.YMM0);
  if (r === Register.None || !RegisterExt.isGPR(r)) return -1;
  const full = RegisterExt.fullRegister(r);
  return full >= Register.RAX && full <= Register.R15 ? full - Register.RAX : -1;
}

/** One instruction as the use search needs it. */
export interface UseInsn {
  readonly next: number;
  readonly flow: FlowControl;
  readonly target: number;
  /** [location, token] for each read of a location's value. */
  readonly uses: ReadonlyArray<readonly [number, string]>;
  /** Locations written (bit per location). */
  readonly writes: number;
  /** A copy: after the writes, `copyDst` holds what `copySrc` held (-1: none). */
  readonly copyDst: number;
  readonly copySrc: number;
  /** Frame slots (the `spill` numbering, a bit each) written. */
  readonly spillWrites: number;
  /** A spill: frame slot `spillDst` now holds what register `copySrc` held (-1: none). */
  readonly spillDst: number;
  /** A reload: register `copyDst` now holds what frame slot `spillSrc` held (-1: none). */
  readonly spillSrc: number;
  /** [frame slot, token (with its `g`/`x` prefix)] for each read of a frame slot's value by an instruction other than a reload. */
  readonly spillUses: ReadonlyArray<readonly [number, string]>;
  /** Registers an arithmetic instruction reads and writes as its destination (`add eax,edx`'s eax): what they hold after it is computed from what they held. */
  readonly accum: number;
  /** A load: register `loadDst` now holds a value read through register `loadBase` (`mov eax,[rcx+0x4]`), or -1. */
  readonly loadDst: number;
  readonly loadBase: number;
  /** The condition the instruction reads the flags with (`jl`, `setg`, `cmovb`: iced ConditionCode, 0 none), and whether it writes them. */
  readonly cond: number;
  readonly flags: boolean;
  /** A value computed into register `deriveDst` from the registers `deriveFrom` (a bit each) hold: `lea eax,[rcx+rdx*4]`, `imul eax,ecx,7`; -1 none. */
  readonly deriveDst: number;
  readonly deriveFrom: number;
  /** Registers written with a value computed from the registers `computedFrom` read (iced's used registers; not a memory operand's address, not a copy, load or zeroing): `not`, `cdqe`, `shlx`, `rorx`, `lea`, three-operand `imul`. */
  readonly computedDst: number;
  readonly computedFrom: number;
  /** Frame slots (a bit each) read as an operand of that computation (clang -O0 `imul eax,[rsp+0x4],9`). */
  readonly computedFrame: number;
  /**
   * Frame slots arithmetic reads and writes in place (gcc -O0 `a += 5`: `add dword [rbp+0x10],5`): what they hold after
   * it is computed from what they held, as a register's is after `add ecx,5` (`accum`).
   */
  readonly spillAccum: number;
  /** The frame address handed out (frame-escape.ts frameEscapeOf), and the register that receives it (-1: none, a store or push). */
  readonly escape: FrameEscape | null;
  readonly escapeDst: number;
  /** The escape is of rbp (`lea r,[rbp+d]`, rbp copied): a frame address only in a body that sets rbp from rsp (setsFramePointer). */
  readonly escapeRbp: boolean;
  /** A register given another's value plus a constant (frame-escape.ts addressMoveOf): how a frame slot's address is carried. */
  readonly move: AddressMove | null;
}

/**
 * The number (0..31) of a frame slot `[rsp+d]` or `[rbp+d]` (no index) that the search follows
 * like a register, or -1. -O0 builds spill every argument to the frame at entry and reload it
 * for each use (gcc `mov [rbp+0x10],rcx` ... `mov rax,[rbp+0x10]`, clang `mov [rsp+0x8],rcx`):
 * without this the reloaded value is no argument's, and every slot's uses are alike.
 */
export interface SpillSlots {
  (base: Register, disp: number): number;
  /**
   * The slots (a bit each) an address `[base+disp]` handed out may reach: those of that base
   * less than 8 bytes from it (the slot itself, or an object it may be part of), as frame-slots.ts
   * `addressTaken` counts them; every slot for an escape of the frame itself (`escape` 'frame').
   * `within` 1: the slot at that address only.
   */
  near(escape: FrameEscape, within?: number): number;
}

/** A fresh frame-slot numbering for one function (up to 32 slots; more are not followed). */
export function spillSlots(): SpillSlots {
  const ids = new Map<string, number>();
  const at = new Map<number, readonly [Register, number]>();
  const slot = (base: Register, disp: number): number => {
    if (base !== Register.RSP && base !== Register.RBP) return -1;
    const key = `${base}:${disp}`;
    let id = ids.get(key);
    if (id === undefined) {
      if (ids.size >= 32) return -1;
      ids.set(key, (id = ids.size));
      at.set(id, [base, disp]);
    }
    return id;
  };
  const near = (e: FrameEscape, within = 8): number => {
    if (e === 'frame') return 0xffffffff;
    let m = 0;
    for (const [id, [b, d]] of at) if (b === e.base && d > e.disp - within && d < e.disp + within) m |= 1 << id;
    return m >>> 0;
  };
  return Object.assign(slot, { near });
}

/** No register holds a frame address. */
const NO_ADDRESSES: AddressRegisters = new Map();

/** No frame slots followed. */
const NO_SLOTS: SpillSlots = Object.assign(() => -1, { near: (): number => 0 });

const COMMUTATIVE = new Set<number>([Mnemonic.Add, Mnemonic.Imul, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Addsd, Mnemonic.Addss, Mnemonic.Mulsd, Mnemonic.Mulss, Mnemonic.Vaddsd, Mnemonic.Vaddss, Mnemonic.Vmulsd, Mnemonic.Vmulss, Mnemonic.Test]);
/** Arithmetic whose destination register accumulates: the result is computed from what it held. */
const ACCUMULATES = new Set<number>([Mnemonic.Add, Mnemonic.Sub, Mnemonic.Imul, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Sar, Mnemonic.Shr, Mnemonic.Neg, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Xor, Mnemonic.Or, Mnemonic.And, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Addsd, Mnemonic.Addss, Mnemonic.Subsd, Mnemonic.Subss, Mnemonic.Mulsd, Mnemonic.Mulss, Mnemonic.Divsd, Mnemonic.Divss]);
const COPIES = new Set<number>([Mnemonic.Mov, Mnemonic.Movsxd, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Movsd, Mnemonic.Movss, Mnemonic.Vmovaps, Mnemonic.Vmovapd]);

/** Instructions that leave a constant when both sources are one register (`xor eax,eax`, `vxorps xmm0,xmm0,xmm0`, `pcmpeqd`: all ones). */
const SAME_SOURCE_CONSTANT = new Set<number>([Mnemonic.Xor, Mnemonic.Sub, Mnemonic.Xorps, Mnemonic.Xorpd, Mnemonic.Pxor, Mnemonic.Vxorps, Mnemonic.Vxorpd, Mnemonic.Vpxor, Mnemonic.Pcmpeqd, Mnemonic.Vpcmpeqd]);
/** Whether `insn` computes a constant from nothing: its two last operands one register, of a SAME_SOURCE_CONSTANT instruction. */
const constantIdiom = (insn: Instruction): boolean => {
  const n = insn.opCount;
  return n >= 2 && SAME_SOURCE_CONSTANT.has(insn.mnemonic) && opKindOf(insn, n - 1) === OpKind.Register && opKindOf(insn, n - 2) === OpKind.Register && opRegisterOf(insn, n - 1) === opRegisterOf(insn, n - 2);
};

/** A use token of a memory operand's base register: a load, store or read-modify-write through it. */
export const MEMORY_USE = /^(ld|st|rw)[+-]0x/;
const accessName = (a: OpAccess): string => (a === OpAccess.Read || a === OpAccess.CondRead ? 'ld' : a === OpAccess.Write || a === OpAccess.CondWrite ? 'st' : 'rw');
const signed = (x: number): string => (x < 0 ? `-0x${(-x).toString(16)}` : `+0x${x.toString(16)}`);

/**
 * A name for a writable global by its identity, the same in the old and the new body when the
 * diff's data match pairs them (`&` and the NEW address), or null (not writable data, or
 * unmatched): its bytes are only what it holds at load time, alike for every zero-initialised
 * global, so `g_first = *a; g_second = *b` -> `g_first = *b; g_second = *a` exchanged nothing
 * the bytes could show.
 */
export type GlobalNames = (rva: number) => string | null;

/** Operations that only move a value (a store, a push): where it goes is the role, named by the base register's token, not the operand position. */
const MOVES = new Set<number>([...COPIES, Mnemonic.Push, Mnemonic.Xchg]);
/**
 * Whether a use token names an operand role of a non-commutative operation (`m<sub>@1`: the
 * subtrahend; `m<idiv>@d`: the dividend; `m<cmp><13>`: the left of `<`), not a copy, store or
 * push of the value: a computed value meeting it tells `a*a - b*b` from `b*b - a*a`.
 */
export function namesRole(t: string): boolean {
  const m = /^m(\d+)(?:@[0-9d]|<\d+>)/.exec(t);
  return m !== null && !MOVES.has(Number(m[1]));
}

/** A use naming a writable global by its identity (matchedGlobalNames: `&<address>`). */
export const namesGlobal = (t: string): boolean => t.includes('&');

/** GlobalNames of the `side` image of `m`: a writable item the match pairs, by its NEW counterpart's address at the same offset. */
export function matchedGlobalNames(m: MatchResult, side: 'old' | 'new'): GlobalNames {
  const a = side === 'old' ? m.old : m.new;
  return (rva) => {
    const it = a.itemAt(rva);
    if (it === undefined || !it.writable) return null;
    const n = side === 'old' ? m.itemOldToNew[it.index]! : m.itemNewToOld[it.index]! >= 0 ? it.index : -1;
    const ni = n >= 0 ? m.new.items[n] : undefined;
    return ni === undefined ? null : `&${(ni.start + rva - it.start).toString(16)}`;
  };
}

/** The constant bytes a RIP-relative read of `size` bytes at `rva` sees, as `=hex`, or `=?`. */
function constantAt(image: Uint8Array, rva: number, size: number): string {
  if (size <= 0 || size > 16 || rva < 0 || rva + size > image.length) return '=?';
  return `=${[...image.subarray(rva, rva + size)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The arithmetic token of `insn` for a register operand at position `pos`. */
function operandToken(image: Uint8Array, insn: Instruction, pos: number, globals: GlobalNames): string {
  const mn = insn.mnemonic;
  let t = COMMUTATIVE.has(mn) ? `m${mn}` : `m${mn}@${pos}`;
  for (let i = 0; i < insn.opCount; i++) {
    const k = opKindOf(insn, i);
    if (IMMEDIATE_KINDS.has(k) || k === OpKind.Immediate64) t += `#${BigInt.asIntN(64, BigInt(insn.immediate(i)))}`;
    else if (k === OpKind.Memory && insn.memoryBase === Register.RIP) t += globals(Number(insn.memoryDisplacement)) ?? constantAt(image, Number(insn.memoryDisplacement), MemorySizeExt.size(insn.memorySize));
  }
  return t;
}

/** The uses, writes and copy of one decoded instruction. */
export function useInsnOf(image: Uint8Array, insn: Instruction, rva: number, length: number, flow: FlowControl, spill: SpillSlots = NO_SLOTS, globals: GlobalNames = () => null, held: AddressRegisters = NO_ADDRESSES): UseInsn {
  const uses: Array<readonly [number, string]> = [];
  const spillUses: Array<readonly [number, string]> = [];
  const mn = insn.mnemonic;
  const info = factory.info(insn);
  let writes = 0;
  let copyDst = -1;
  let copySrc = -1;
  let spillWrites = 0;
  let spillDst = -1;
  let spillSrc = -1;
  let loadDst = -1;
  let loadBase = -1;
  let deriveDst = -1;
  let deriveFrom = 0;
  let computedDst = 0;
  let computedFrom = 0;
  let computedFrame = 0;
  let spillAccum = 0;
  // `xor eax,eax` and `sub eax,eax` leave zero, computed from nothing (the idioms ACCUMULATES holds are those two).
  const accum = ACCUMULATES.has(mn) && !constantIdiom(insn) && insn.opCount >= 1 && insn.opCount <= 2 && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0 ? 1 << locOf(insn.op0Register) : 0;
  // Three-operand imul computes its destination from its source (`imul eax,ecx,100`; `imul eax,[rcx],100` loads through rcx).
  const imul3 = mn === Mnemonic.Imul && insn.opCount === 3 && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0;
  if (imul3 && insn.op1Kind === OpKind.Register && locOf(insn.op1Register) >= 0) [deriveDst, deriveFrom] = [locOf(insn.op0Register), 1 << locOf(insn.op1Register)];
  try {
    for (let i = 0; i < insn.opCount; i++) {
      const k = opKindOf(insn, i);
      if (k === OpKind.Memory && mn !== Mnemonic.Nop) {
        const [b, x, s, d] = [locOf(insn.memoryBase), locOf(insn.memoryIndex), insn.memoryIndexScale, Number(BigInt.asIntN(64, insn.memoryDisplacement))];
        // Through a register holding a frame slot's address (clang -Os `lea rsi,[rsp+0x24]; mov [rsi],ecx`): that slot's access.
        const via: FrameAddress | undefined = b >= 0 ? held.get(b) : undefined;
        const slot = mn === Mnemonic.Lea || x >= 0 ? -1 : via !== undefined ? spill(via.base, via.disp + d) : spill(insn.memoryBase, d);
        if (slot >= 0) {
          const a = opAccessOf(info, i);
          const other = insn.opCount === 2 && opKindOf(insn, 1 - i) === OpKind.Register ? locOf(opRegisterOf(insn, 1 - i)) : -1;
          // A float instruction reading the slot straight from the frame (clang -O0 `addsd xmm0,[rsp]`) uses it as a float, as it would from xmm2.
          const pre = other >= XMM ? 'x' : 'g';
          if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) {
            spillWrites |= 1 << slot;
            if (i === 0 && COPIES.has(mn) && other >= 0) [spillDst, copySrc] = [slot, other];
          }
          if (a === OpAccess.Read || a === OpAccess.CondRead) {
            if (i === 1 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0) [spillSrc, copyDst] = [slot, locOf(insn.op0Register)];
            else {
              spillUses.push([slot, `${pre}${operandToken(image, insn, i, globals)}`]);
              computedFrame |= 1 << slot;
            }
          } else if (a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) {
            spillUses.push([slot, `${pre}${operandToken(image, insn, i, globals)}`]);
            if (i === 0 && ACCUMULATES.has(mn) && insn.opCount <= 2) spillAccum |= 1 << slot;
          }
          continue;
        }
        if (mn === Mnemonic.Lea) {
          // An address computed from an index is a value computed from it and the base (`lea eax,[rcx+rcx*4]`: a * 5, `lea eax,[rcx+rdx*4]`).
          if (x >= 0 && locOf(insn.op0Register) >= 0) [deriveDst, deriveFrom] = [locOf(insn.op0Register), (b >= 0 ? 1 << b : 0) | (1 << x)];
          if (b >= 0 && b === x) uses.push([b, `mul${s + 1}${signed(d)}`]);
          else if (b >= 0 && x >= 0 && s === 1 && d === 0) uses.push([b, `m${Mnemonic.Add}`], [x, `m${Mnemonic.Add}`]);
          else {
            if (b >= 0 && x < 0) [copyDst, copySrc] = [locOf(insn.op0Register), b];
            else if (b >= 0) uses.push([b, `leab${signed(d)}`]);
            if (x >= 0) uses.push([x, `leai${s}${signed(d)}`]);
          }
          continue;
        }
        const acc = `${accessName(opAccessOf(info, i))}`;
        const size = MemorySizeExt.size(insn.memorySize);
        // What a value read through the base meets: a load into a register is followed (loadDst), a memory operand of arithmetic is its operand.
        if (b >= 0 && b !== RSP && acc === 'ld' && i === 1 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0) [loadDst, loadBase] = [locOf(insn.op0Register), b];
        else if (b >= 0 && b !== RSP && acc === 'ld' && i === 1 && imul3) {
          [loadDst, loadBase] = [locOf(insn.op0Register), b];
          uses.push([b, `v${operandToken(image, insn, i, globals)}`]);
        } else if (b >= 0 && b !== RSP && acc !== 'st' && !COPIES.has(mn)) uses.push([b, `v${operandToken(image, insn, i, globals)}`]);
        if (b >= 0 && b !== RSP) uses.push([b, `${acc}${signed(d)}:${size}${x >= 0 ? 'x' : ''}`]);
        if (x >= 0) uses.push([x, `ix${s}:${acc}:${size}`]);
        continue;
      }
      if (k !== OpKind.Register) continue;
      const loc = locOf(opRegisterOf(insn, i));
      if (loc < 0) continue;
      const a = opAccessOf(info, i);
      if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) writes |= 1 << loc;
      if (spillDst >= 0 && i === 1) continue;
      if (i === 1 && insn.opCount === 2 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0 && (locOf(insn.op0Register) < XMM) === (loc < XMM)) {
        [copyDst, copySrc] = [locOf(insn.op0Register), loc];
        continue;
      }
      const zeroing = insn.opCount >= 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register && (mn === Mnemonic.Xor || mn === Mnemonic.Xorps || mn === Mnemonic.Xorpd || mn === Mnemonic.Pxor || mn === Mnemonic.Sub);
      if (zeroing) continue;
      if (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) uses.push([loc, operandToken(image, insn, i, globals)]);
    }
    // The dividend of `div`/`idiv` is implicit (rax, after `cdq` or a zeroed rdx): its operand is the divisor (`@0`).
    if ((mn === Mnemonic.Idiv || mn === Mnemonic.Div) && insn.opCount === 1) uses.push([RAX, `m${mn}@d`]);
    // Implicit writes (`cqo`, `mul`'s rdx, a call's rax): what they leave is not the argument.
    for (const u of info.usedRegisters()) {
      const loc = locOf(u.register);
      const a = u.access;
      if (loc >= 0 && (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite)) [writes, computedDst] = [writes | (1 << loc), computedDst | (1 << loc)];
      if (loc >= 0 && (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite)) computedFrom |= 1 << loc;
      u.free();
    }
    // What a memory operand's address registers hold is not an operand of the computation (a load through them is `loaded`); lea's are.
    if (mn !== Mnemonic.Lea && mn !== Mnemonic.Nop) for (let i = 0; i < insn.opCount; i++) if (opKindOf(insn, i) === OpKind.Memory) computedFrom &= ~((1 << Math.max(locOf(insn.memoryBase), 0)) | (1 << Math.max(locOf(insn.memoryIndex), 0)));
  } finally {
    info.free();
  }
  if (copyDst >= 0) writes |= 1 << copyDst;
  const direct = flow === FlowControl.Call || flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch;
  const target = direct && insn.opCount > 0 && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32) ? Number(insn.nearBranchTarget) : -1;
  if (loadDst >= 0) writes |= 1 << loadDst;
  if (deriveDst >= 0) writes |= 1 << deriveDst;
  // Copies, reloads and spills are followed as such, `xor eax,eax` computes from nothing, and a call or branch computes nothing the search follows (a call's results are not its arguments').
  const computes = flow === FlowControl.Next && copyDst < 0 && spillDst < 0 && !constantIdiom(insn) && mn !== Mnemonic.Push && mn !== Mnemonic.Pop;
  [computedDst, computedFrom, computedFrame] = computes ? [computedDst & ~(1 << RSP), computedFrom, computedFrame] : [0, 0, 0];
  const esc = frameEscapeOf(insn, held);
  return { escape: esc?.escape ?? null, escapeDst: esc?.dst ?? -1, escapeRbp: esc?.rbp ?? false, move: addressMoveOf(insn), next: rva + length, flow, target, uses, writes, copyDst, copySrc, spillWrites, spillDst, spillSrc, spillUses, accum: accum >>> 0, loadDst, loadBase, cond: insn.conditionCode, flags: insn.rflagsModified !== 0, deriveDst, deriveFrom: deriveFrom >>> 0, computedDst: computedDst >>> 0, computedFrom: computedFrom >>> 0, computedFrame: computedFrame >>> 0, spillAccum: spillAccum >>> 0 };
}
