/**
 * Whether an instruction's RIP-relative operand is memory it reads or writes, rather than an
 * address it only computes. A load or store through `[rip + X]` touches bytes [X, X + size):
 * none of them belong to the item that ends at X, so such an operand names the item that
 * starts at X, never `&prev[N]` (the end of the item before it). `lea` computes an address
 * (it may be an end pointer); the bit tests (bt, bts, btr, btc) with a register bit offset
 * reach memory at any distance from X, before it too; both keep the ambiguity. The
 * disassembler records the answer on each reference (Reference.accessesTarget); the verifier
 * asks again on its own decode.
 */
import { type Instruction, MemorySize, Mnemonic } from 'iced-x86';

const NOT_AN_ACCESS: ReadonlySet<Mnemonic> = new Set([Mnemonic.Lea, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc]);

/** True when decoded `insn` reads or writes memory at its RIP-relative operand's address. */
export function accessesRipTarget(insn: Instruction): boolean {
  return insn.isIpRelMemoryOperand && !NOT_AN_ACCESS.has(insn.mnemonic) && insn.memorySize !== MemorySize.Unknown;
}
