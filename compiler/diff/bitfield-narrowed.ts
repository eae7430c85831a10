/**
 * A bit-field writer whose only change narrows the mask of an input before it is placed
 * (probe bitfield-reorder-fix: `f->level = level & 0xf` where v1 stored `level`: clang -O1/-O2
 * and gcc -O2 `and r8d,0x1f` -> `and r8d,0xf`, every other byte equal). bitfield-layout.ts
 * sees another constant set and cannot tell it from a reorder, so the writer and its readers
 * were refused; yet the field keeps its place (the shift, the keep mask and every other
 * instruction are the bytes they were): words the old writer packed decode as before, and the
 * new writer only leaves the field's top bits 0. Accepted here only when both bodies have
 * the same instructions, byte for byte, but for such `and reg,imm` pairs where both masks are
 * low masks (2^k - 1), the new one inside the old, on a register that holds no value loaded
 * from memory (an argument or a value computed from arguments: not the word's own bits, whose
 * low keep mask narrowed would widen a field downwards). Anything else stays a change.
 */
import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { fullRegister } from './added-field.ts';
import { decodeEach } from './register-effects.ts';
import { opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** One instruction: its bytes, and when it is `and reg,imm` on a register holding no loaded value, that register and the mask. */
interface Seen {
  readonly bytes: string;
  readonly inputMask: { readonly reg: number; readonly m: bigint; readonly len: number } | null;
}

const lowMask = (m: bigint): boolean => m > 0n && (m & (m + 1n)) === 0n;

function seenOf(image: Uint8Array, f: FunctionInfo): Seen[] {
  const out: Seen[] = [];
  // Registers holding a value loaded from memory (or computed from one).
  const loaded = new Set<number>();
  decodeEach(image, f.decoded.insns, (insn: Instruction, d) => {
    const bytes = Buffer.from(image.subarray(d.rva, d.rva + d.length)).toString('hex');
    const dst = insn.opCount >= 1 && insn.op0Kind === OpKind.Register ? fullRegister(insn.op0Register) : -1;
    let inputMask: Seen['inputMask'] = null;
    if (insn.mnemonic === Mnemonic.And && dst >= 0 && insn.opCount === 2 && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory && !loaded.has(dst)) {
      inputMask = { reg: dst, m: BigInt.asUintN(32, insn.immediate(1)), len: d.length };
    }
    if (dst >= 0) {
      let fromMemory = insn.mnemonic !== Mnemonic.Lea && [...Array(insn.opCount).keys()].some((k) => opKindOf(insn, k) === OpKind.Memory);
      for (let k = 1; k < insn.opCount && !fromMemory; k++) fromMemory = opKindOf(insn, k) === OpKind.Register && loaded.has(fullRegister(opRegisterOf(insn, k)));
      if (fromMemory || (loaded.has(dst) && insn.mnemonic !== Mnemonic.Mov && insn.mnemonic !== Mnemonic.Movzx && insn.mnemonic !== Mnemonic.Lea)) loaded.add(dst);
      else loaded.delete(dst);
    }
    out.push({ bytes, inputMask });
  });
  return out;
}

/** True when new body `nf` is old body `of` with only input masks narrowed (at least one), every other instruction byte-equal. */
export function onlyInputMasksNarrowed(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo): boolean {
  if (of.decoded.insns.length !== nf.decoded.insns.length) return false;
  const o = seenOf(oldImage, of);
  const n = seenOf(newImage, nf);
  if (o.length !== n.length) return false;
  let narrowed = 0;
  for (let k = 0; k < o.length; k++) {
    const a = o[k]!;
    const b = n[k]!;
    if (a.bytes === b.bytes) continue;
    const am = a.inputMask;
    const bm = b.inputMask;
    if (am === null || bm === null || am.reg !== bm.reg || am.len !== bm.len || !lowMask(am.m) || !lowMask(bm.m) || bm.m >= am.m) return false;
    narrowed++;
  }
  return narrowed > 0;
}
