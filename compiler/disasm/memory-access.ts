/**
 * Whether an instruction's RIP-relative operand is memory it reads or writes, rather than an
 * address it only computes. A load or store through `[rip + X]` touches bytes [X, X + size):
 * none of them belong to the item that ends at X, so such an operand names the item that
 * starts at X, never `&prev[N]` (the end of the item before it). `lea` computes an address
 * (it may be an end pointer); the bit tests (bt, bts, btr, btc) with a register bit offset
 * reach memory at any distance from X, before it too; both keep the ambiguity.
 */
import { Decoder, DecoderOptions, Instruction, MemorySize, Mnemonic } from 'iced-x86';
import type { MappedImage } from '../image/map-image.ts';
import type { Reference } from '../image/types.ts';

const NOT_AN_ACCESS: ReadonlySet<Mnemonic> = new Set([Mnemonic.Lea, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc]);

/** True when decoded `insn` reads or writes memory at its RIP-relative operand's address. */
export function accessesRipTarget(insn: Instruction): boolean {
  return insn.isIpRelMemoryOperand && !NOT_AN_ACCESS.has(insn.mnemonic) && insn.memorySize !== MemorySize.Unknown;
}

/** True when reference `r` is the RIP-relative operand of an instruction that reads or writes memory there. */
export function referenceAccessesTarget(img: MappedImage, r: Reference): boolean {
  if (r.kind !== 'riprel32' || r.isBranch) return false;
  const bytes = img.image.subarray(r.insnRva, Math.min(img.image.length, r.insnEnd));
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const insn = new Instruction();
  try {
    decoder.ip = BigInt(r.insnRva);
    decoder.decodeOut(insn);
    return insn.length === r.insnEnd - r.insnRva && Number(insn.ipRelMemoryAddress) === r.target && accessesRipTarget(insn);
  } finally {
    insn.free();
    decoder.free();
  }
}
