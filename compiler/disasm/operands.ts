/**
 * An operand's kind and register through iced-x86's per-operand getters (`op0Kind` ..
 * `op4Kind`, `op0Register` .. `op4Register`), which are one call into its wasm heap each.
 * `Instruction.opKind(k)` and `opRegister(k)` answer the same (iced maps operand k to the same
 * getter) through three calls and a read of a result slot in wasm memory: the diff's rules ask
 * them of every instruction of every changed function, several times, and that glue was a
 * measurable share of a diff's time. Operands past 4 do not exist on x86; they go to the
 * general call, whose answer (an error) stays iced's. It also holds the operand sets the rules
 * share (the volatile registers, the immediate kinds).
 */
import { type Instruction, type InstructionInfo, type OpAccess, OpKind, Register } from 'iced-x86';

/** The Win64 caller-saved (volatile) general registers: what a call may leave changed. */
export const VOLATILE_REGISTERS: readonly Register[] = [Register.RAX, Register.RCX, Register.RDX, Register.R8, Register.R9, Register.R10, Register.R11];

/**
 * The immediate operand kinds except `Immediate64` (only `mov r64, imm64` has it) and
 * `Immediate8_2nd` (enter's and extrq's second immediate).
 */
export const IMMEDIATE_KINDS: ReadonlySet<number> = new Set<number>([OpKind.Immediate8, OpKind.Immediate16, OpKind.Immediate32, OpKind.Immediate8to16, OpKind.Immediate8to32, OpKind.Immediate8to64, OpKind.Immediate32to64]);

/** Operand `k`'s immediate, sign-extended to 64 bits, as a number (`add rax,-8`: -8). */
export function immediateOf(insn: Instruction, k: number): number {
  return Number(BigInt.asIntN(64, insn.immediate(k)));
}

/** `insn.opKind(k)`. */
export function opKindOf(insn: Instruction, k: number): OpKind {
  switch (k) {
    case 0:
      return insn.op0Kind;
    case 1:
      return insn.op1Kind;
    case 2:
      return insn.op2Kind;
    case 3:
      return insn.op3Kind;
    case 4:
      return insn.op4Kind;
    default:
      return insn.opKind(k);
  }
}

/** `insn.opRegister(k)`. */
export function opRegisterOf(insn: Instruction, k: number): Register {
  switch (k) {
    case 0:
      return insn.op0Register;
    case 1:
      return insn.op1Register;
    case 2:
      return insn.op2Register;
    case 3:
      return insn.op3Register;
    case 4:
      return insn.op4Register;
    default:
      return insn.opRegister(k);
  }
}

/** `info.opAccess(k)`. */
export function opAccessOf(info: InstructionInfo, k: number): OpAccess {
  switch (k) {
    case 0:
      return info.op0Access;
    case 1:
      return info.op1Access;
    case 2:
      return info.op2Access;
    case 3:
      return info.op3Access;
    case 4:
      return info.op4Access;
    default:
      return info.opAccess(k);
  }
}
