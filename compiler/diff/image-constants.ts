/**
 * Constants a body loads from the image rather than encoding them as immediates (issue #14,
 * probe bitfield-rodata): clang copies a 16-byte compound literal as `movaps xmm0,[rip+X];
 * movups [rcx],xmm0`, gcc a part of one as `mov rax,[rip+X]; mov [rcx+4],rax`. A load of bytes
 * that lie wholly in a section the image maps without write access, none of them patched by a
 * base relocation, reads the same value in every process that maps the image: a constant, as
 * an immediate is. Evidence: the mapped image (sections' characteristics, base relocations)
 * and the load's RIP-relative address (the decoder's ip is the RVA).
 * Also: which registers an instruction writes (iced's used registers), so a tracker of
 * register constants drops each one any write it does not model replaces.
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register } from 'iced-x86';
import { lowerBound } from '../../common/search.ts';
import { type MappedImage, sectionAt } from '../image/map-image.ts';
import { fullRegister } from './added-field.ts';
import { withUsedRegisters } from './register-effects.ts';

/** Plain loads and stores of a register's low bytes: GPR and vector moves (the upper lanes zeroed or kept, never merged into the low bytes). */
export const PLAIN_MOVES = new Set<number>([
  Mnemonic.Mov, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movapd, Mnemonic.Movupd, Mnemonic.Movdqa, Mnemonic.Movdqu,
  Mnemonic.Movq, Mnemonic.Movd, Mnemonic.Lddqu, Mnemonic.Vmovaps, Mnemonic.Vmovups, Mnemonic.Vmovapd, Mnemonic.Vmovupd,
  Mnemonic.Vmovdqa, Mnemonic.Vmovdqu, Mnemonic.Vmovq, Mnemonic.Vmovd,
]);

/** Width in bytes of `insn`'s memory operand (0: none known). */
export function memoryBytes(insn: Instruction): number {
  return MemorySizeExt.size(insn.memorySize);
}

/**
 * The constant `insn` loads into its destination register, zero-extended, when it is a plain
 * move from read-only image bytes (`mov r,[rip+X]`, `movaps xmm,[rip+X]`, `movq xmm,[rip+X]`):
 * the value and its width in bytes. Undefined for any other instruction.
 */
export function readOnlyLoad(img: MappedImage, insn: Instruction): { v: bigint; bytes: number } | undefined {
  if (!PLAIN_MOVES.has(insn.mnemonic) || insn.opCount !== 2 || insn.op0Kind !== OpKind.Register || insn.op1Kind !== OpKind.Memory) return undefined;
  if (insn.memoryBase !== Register.RIP || insn.memoryIndex !== Register.None) return undefined;
  const bytes = memoryBytes(insn);
  if (bytes < 1 || bytes > 32) return undefined;
  const rva = Number(insn.memoryDisplacement);
  const v = readOnlyBytes(img, rva, bytes);
  return v === undefined ? undefined : { v, bytes };
}

/** The `bytes` little-endian bytes at `rva` when all lie in one mapped, file-backed section without write access and no base relocation touches them. */
export function readOnlyBytes(img: MappedImage, rva: number, bytes: number): bigint | undefined {
  const s = sectionAt(img, rva);
  if (s === undefined || s.writable || rva + bytes > s.rva + s.rawSize || rva + bytes > img.image.length) return undefined;
  // A relocated word (up to 8 bytes) starting before rva may reach into the range.
  const k = lowerBound(img.relocRvas, rva - 7);
  if (k < img.relocRvas.length && img.relocRvas[k]! < rva + bytes) return undefined;
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(img.image[rva + i]!);
  return v;
}

const WRITES = new Set<number>([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);

/** Deletes from `held` every full register `insn` writes (explicitly or implicitly: `inc`, `neg`, `mul`'s rdx, `rep movs`' rcx/rsi/rdi). */
export function dropWritten(insn: Instruction, held: Map<number, unknown>): void {
  if (held.size === 0) return;
  withUsedRegisters(insn, (used) => {
    for (const u of used) if (WRITES.has(u.access)) held.delete(fullRegister(u.register));
  });
}
