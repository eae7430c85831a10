/**
 * Frame addresses held in general registers, and the instructions that hand one out: the
 * frame-escape policy of the rules that follow values through frame slots (argument-uses.ts,
 * frame-slots.ts, loop-trip-slots.ts). A slot whose address leaves the body's own loads and
 * stores (handed to a callee, stored to memory, the frame's address copied out) may be changed
 * between a store and a reload by code the rule does not see, so what the reload gives is no
 * longer known to be what was stored.
 *
 * A register holding a frame slot's address (`lea rsi,[rsp+0x24]`, a copy of it, a constant
 * added to it) is a frame pointer for the loads and stores through it: clang -Os keeps the
 * arguments whose addresses it hands to `xchg(&a, &b)` in callee-saved copies of those
 * addresses (`lea rsi,[rsp+0x24]; mov [rsi],ecx; ... mov rcx,rsi; call xchg; mov eax,[rsi]`),
 * never naming the slot through rsp after the lea (probe entry-args-escape). argument-uses.ts
 * follows which registers hold one on every decoded path from the entry
 * (`frameAddressRegisters`, forward-paths.ts; paths meet by keeping what both hold);
 * frame-slots.ts in address order, with its frame offsets. rbp copied out, or an address taken
 * from it, counts only in a body that sets rbp from rsp (`setsFramePointer`): optimised code
 * uses rbp as any other register (gcc -O2 `mov r13,rbp`), and taking that for the frame's
 * address copied out would lose every slot of the body.
 */
import { FlowControl, Mnemonic, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';
import { immediateOf, IMMEDIATE_KINDS, opKindOf, opRegisterOf } from '../disasm/operands.ts';
import { forwardPaths, type PathStep } from './forward-paths.ts';

/** A frame slot's address: rsp or rbp plus a displacement, as the instructions name it (frame-slots.ts: no base, an offset from the stack pointer at entry). */
export interface FrameAddress {
  readonly base: Register;
  readonly disp: number;
}

/** A frame address an instruction hands out: a slot's, or the frame's own (rsp/rbp copied out, an indexed lea: every slot's). */
export type FrameEscape = FrameAddress | 'frame';

/** General register numbers (rax 0 .. r15 15) of rsp and rbp. */
export const RSP_GPR = 4;
export const RBP_GPR = 5;
/** General registers a call may change (rax, rcx, rdx, r8-r11), a bit each. */
export const GPR_CALL_KILLS = [0, 1, 2, 8, 9, 10, 11].reduce((m, g) => m | (1 << g), 0);

/** The 64-bit general register number (0..15) of `r`, or -1 (a narrower part, another class). */
const gpr64 = (r: Register): number => (RegisterExt.isGPR64(r) ? r - Register.RAX : -1);
const isFrameRegister = (r: Register): boolean => r === Register.RSP || r === Register.RBP;

/**
 * Whether `insn` makes rbp a frame pointer (`mov rbp,rsp`, `lea rbp,[rsp+d]`). Optimised code
 * without one uses rbp as any other register: libvips 0.34.5's 0x422960 (gcc -O2) parks a value
 * in it and copies it out (`mov r13,rbp`), which is no frame address.
 */
export function setsFramePointer(insn: Instruction): boolean {
  if (insn.opCount !== 2 || insn.op0Kind !== OpKind.Register || insn.op0Register !== Register.RBP) return false;
  if (insn.mnemonic === Mnemonic.Mov) return insn.op1Kind === OpKind.Register && insn.op1Register === Register.RSP;
  return insn.mnemonic === Mnemonic.Lea && insn.memoryBase === Register.RSP;
}

/**
 * How `insn` puts into a 64-bit register (not rsp or rbp) what another one holds plus a
 * constant: `lea dst,[src+d]`, `mov dst,src`, `add/sub dst,imm` (src = dst). When src holds a
 * frame address (or is rsp, or rbp as the frame), dst holds that address moved by `add`. Null:
 * no such move (any other write of dst ends what it held).
 */
export interface AddressMove {
  readonly dst: number;
  readonly src: number;
  readonly add: number;
}

export function addressMoveOf(insn: Instruction): AddressMove | null {
  if (insn.opCount < 1 || insn.op0Kind !== OpKind.Register) return null;
  const dst = gpr64(insn.op0Register);
  if (dst < 0 || dst === RSP_GPR || dst === RBP_GPR) return null;
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Lea) {
    const src = gpr64(insn.memoryBase);
    return src < 0 || insn.memoryIndex !== Register.None ? null : { dst, src, add: Number(BigInt.asIntN(64, insn.memoryDisplacement)) };
  }
  if (insn.opCount !== 2) return null;
  if (mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register) {
    const src = gpr64(insn.op1Register);
    return src < 0 ? null : { dst, src, add: 0 };
  }
  if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && IMMEDIATE_KINDS.has(insn.op1Kind)) return { dst, src: dst, add: mn === Mnemonic.Add ? immediateOf(insn, 1) : -immediateOf(insn, 1) };
  return null;
}

/** Registers (general register number -> address) holding a frame address before an instruction. */
export type AddressRegisters = ReadonlyMap<number, FrameAddress>;
const NONE: AddressRegisters = new Map();

/** The address `src` holds before a move, given the registers holding one: rsp's own, rbp's when it is the frame. */
function addressIn(src: number, held: AddressRegisters, rbpFrame: boolean): FrameAddress | undefined {
  if (src === RSP_GPR) return { base: Register.RSP, disp: 0 };
  if (src === RBP_GPR) return rbpFrame ? { base: Register.RBP, disp: 0 } : undefined;
  return held.get(src);
}

/** What the address search needs of one instruction (argument-use-insns.ts UseInsn has it). */
export interface AddressStep extends PathStep {
  /** General registers written (a bit each, as UseInsn numbers them). */
  readonly writes: number;
  readonly move: AddressMove | null;
}

/** The registers holding a frame address after `e`. */
function stepAddresses(held: AddressRegisters, e: AddressStep, rbpFrame: boolean): AddressRegisters {
  const kill = e.flow === FlowControl.Call || e.flow === FlowControl.IndirectCall ? e.writes | GPR_CALL_KILLS : e.writes;
  const from = e.move === null ? undefined : addressIn(e.move.src, held, rbpFrame);
  if (from === undefined && ![...held.keys()].some((r) => (kill & (1 << r)) !== 0)) return held;
  const out = new Map([...held].filter(([r]) => (kill & (1 << r)) === 0));
  if (from !== undefined) out.set(e.move!.dst, { base: from.base, disp: from.disp + e.move!.add });
  return out;
}

const sameAddress = (x: FrameAddress | undefined, y: FrameAddress | undefined): boolean => x !== undefined && y !== undefined && x.base === y.base && x.disp === y.disp;

/**
 * Per instruction (by RVA), the registers holding a frame address before it, on every decoded
 * path from `entry` (paths meet by keeping the registers that hold the same address on both);
 * instructions where none does are left out. `tables`: the targets of each indirect jump.
 */
export function frameAddressRegisters(entry: number, code: ReadonlyMap<number, AddressStep>, tables: ReadonlyMap<number, readonly number[]>, rbpFrame: boolean): Map<number, AddressRegisters> {
  const out = new Map<number, AddressRegisters>();
  const meet = (now: AddressRegisters, before: AddressRegisters): AddressRegisters | null => {
    const merged = new Map([...now].filter(([r, a]) => sameAddress(a, before.get(r))));
    return merged.size === before.size ? null : merged;
  };
  forwardPaths(entry, code, tables, NONE, meet, (rva, e, held) => {
    if (held.size > 0) out.set(rva, held);
    else out.delete(rva);
    return stepAddresses(held, e, rbpFrame);
  });
  return out;
}

/** A frame address `insn` hands out, the register that receives it (-1: a store, a push, an operation), and whether it is rbp's own (a frame address only in a body that sets rbp from rsp). */
export interface FrameEscapeAt {
  readonly escape: FrameEscape;
  readonly dst: number;
  readonly rbp: boolean;
}

/**
 * The frame address `insn` hands out, given the registers holding one before it (`held`), or
 * null: a lea of `[rsp+d]`/`[rbp+d]` into another register (`lea rcx,[rbp+0x10]`: a slot's
 * address, for a callee or a store), a register holding a slot's address copied, moved by a
 * constant, stored, pushed or read by any other operation than a compare (`mov rcx,rsi`,
 * `mov [rsp+0x20],rsi`), or rsp/rbp copied anywhere but into rsp/rbp or by push (`mov rax,rbp`:
 * every slot's). A load or store through the register is none: it is the frame's own access.
 */
export function frameEscapeOf(insn: Instruction, held: AddressRegisters = NONE): FrameEscapeAt | null {
  const mn = insn.mnemonic;
  const dstReg = insn.opCount > 0 && insn.op0Kind === OpKind.Register ? RegisterExt.fullRegister(insn.op0Register) : Register.None;
  const dst = gpr64(dstReg);
  if (mn === Mnemonic.Lea) {
    if (isFrameRegister(dstReg)) return null;
    if (isFrameRegister(insn.memoryBase)) {
      const escape: FrameEscape = insn.memoryIndex === Register.None ? { base: insn.memoryBase, disp: Number(BigInt.asIntN(64, insn.memoryDisplacement)) } : 'frame';
      return { escape, dst, rbp: insn.memoryBase === Register.RBP };
    }
    // `lea rdx,[rsi+8]` with rsi holding a slot's address: that slot's neighbour handed to rdx; with an index, any slot.
    const a = held.get(gpr64(insn.memoryBase));
    if (a === undefined) return null;
    return { escape: insn.memoryIndex === Register.None ? { base: a.base, disp: a.disp + Number(BigInt.asIntN(64, insn.memoryDisplacement)) } : 'frame', dst, rbp: false };
  }
  if (mn === Mnemonic.Cmp || mn === Mnemonic.Test) return null;
  if (mn !== Mnemonic.Push && !(mn === Mnemonic.Mov && isFrameRegister(dstReg))) {
    for (let k = 1; k < insn.opCount; k++) {
      if (opKindOf(insn, k) !== OpKind.Register) continue;
      if (!isFrameRegister(RegisterExt.fullRegister(opRegisterOf(insn, k)))) continue;
      // rbp's own only when rsp is not read too (`mov rax,rbp`, not `sub rsp,rbp`...).
      let rsp = false;
      for (let j = 1; j < insn.opCount; j++) rsp ||= opKindOf(insn, j) === OpKind.Register && RegisterExt.fullRegister(opRegisterOf(insn, j)) === Register.RSP;
      return { escape: 'frame', dst: insn.op0Kind === OpKind.Register ? dst : -1, rbp: !rsp };
    }
  }
  if (held.size === 0 || mn === Mnemonic.Pop) return null;
  // A register holding a slot's address, read as a value (not as a memory operand's base; a destination only read by push or xchg).
  for (let k = 0; k < insn.opCount; k++) {
    if (opKindOf(insn, k) !== OpKind.Register) continue;
    const r = gpr64(RegisterExt.fullRegister(opRegisterOf(insn, k)));
    const a = held.get(r);
    if (a === undefined || (k === 0 && insn.opCount > 1 && mn !== Mnemonic.Xchg)) continue;
    const move = addressMoveOf(insn);
    const escape = move !== null && move.src === r ? { base: a.base, disp: a.disp + move.add } : a;
    return { escape, dst: move !== null ? move.dst : -1, rbp: false };
  }
  return null;
}
