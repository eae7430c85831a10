/**
 * Which bits of a bit-field word a read decodes, and from which bit up a writer's layout may
 * have moved: what tells a reader of the writer's word from a reader of another structure
 * that happens to keep something at the same displacement (issue #14: swc-html 1.16.1's flag
 * byte at +0x28, whose changed writer coupled 133 readers of Vec lengths at +0x28).
 *
 * Bits are a bigint over the word at the access's displacement (bit i: bit i of the bytes
 * from +disp on, little-endian). A read's value is followed by bitfield-readers.ts; each
 * instruction that computes from it is one BitOp here: a right shift, left shift, mask or
 * zero-extension narrows or moves the bits it carries; `or`/`xor`/`not` keep them in place; a
 * `test`/`bt` decodes the bits it looks at; a bit operation whose mask or count is not an
 * immediate decodes every bit the value carries; anything else (arithmetic, a store, a call
 * argument) uses the value whole, and its result is no longer followed (a sum's bits are no
 * field's). A read DECODES bits only when some mask, right shift, bit test or narrowing
 * selected part of the word before that use: a length or pointer read whole (`mov rax,
 * [rdi+0x28]; imul rsi, rax, 0x68`) decodes no bit-field, whatever its weights.
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';

/** Every bit of a 64-bit word. */
export const ALL_BITS = (1n << 64n) - 1n;

/** The low `bits` bits. */
export function lowBits(bits: number): bigint {
  return bits >= 64 ? ALL_BITS : (1n << BigInt(Math.max(bits, 0))) - 1n;
}

/** Index of the lowest set bit (64 for none). */
export function lowestBit(x: bigint): number {
  if (x === 0n) return 64;
  let k = 0;
  while (((x >> BigInt(k)) & 1n) === 0n) k++;
  return k;
}

/** Width in bits of a general register operand (8, 16, 32, 64). */
export function registerBits(r: Register): number {
  if (r >= Register.AL && r <= Register.R15L) return 8;
  if (r >= Register.AX && r <= Register.R15W) return 16;
  if (r >= Register.EAX && r <= Register.R15D) return 32;
  return 64;
}

/** Width in bits of a memory operand's access, or 0 when it is no integer word (vectors, none). */
export function memoryBits(insn: Instruction): number {
  const size = MemorySizeExt.size(insn.memorySize) * 8;
  return size > 0 && size <= 64 ? size : 0;
}

/** What one instruction does to a followed value's bits. */
export type BitOp =
  /** A right shift (`shr`, `sar`) of a register `bits` wide: only the bits it holds are shifted. */
  | { readonly k: 'shr'; readonly n: number; readonly bits: number }
  /**
   * A left shift of a register `bits` wide: bits shifted past its top are gone. `doubles`:
   * `add r,r`, whose top bit lost is an overflow, not a selection.
   */
  | { readonly k: 'shl'; readonly n: number; readonly bits: number; readonly doubles?: true }
  | { readonly k: 'and'; readonly m: bigint }
  /** A copy that keeps the low `bits` bits (`mov ecx,eax`, `movzx ecx,al`). */
  | { readonly k: 'copy'; readonly bits: number }
  | { readonly k: 'test'; readonly m: bigint }
  | { readonly k: 'bt'; readonly n: number }
  /** Reads the value and leaves it as it was (`cmp eax,5`). */
  | { readonly k: 'look' }
  /** Combines bit by bit, every bit in its place (`or eax,ecx`, `xor eax,0x10`, `not eax`). */
  | { readonly k: 'merge' }
  /** Selects bits by a mask, count or index not known here (`and eax,ecx`, `shr eax,cl`, `bextr`, `pext`): decodes every bit the value carries. */
  | { readonly k: 'any' }
  | { readonly k: 'use' };

/** Bit manipulation whose mask, count or index is a register (or that counts bits): what it selects is not known. */
const ANY_BITS = new Set<number>([
  Mnemonic.Bextr, Mnemonic.Pext, Mnemonic.Pdep, Mnemonic.Bzhi, Mnemonic.Andn, Mnemonic.Shrx, Mnemonic.Sarx, Mnemonic.Shlx, Mnemonic.Rorx,
  Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Blsr, Mnemonic.Blsi, Mnemonic.Blsmsk,
  Mnemonic.Popcnt, Mnemonic.Lzcnt, Mnemonic.Tzcnt, Mnemonic.Bsf, Mnemonic.Bsr, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc,
  Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Shl, Mnemonic.And, Mnemonic.Test,
]);

function immediateOf(insn: Instruction, op: number, bits: number): bigint {
  return BigInt.asUintN(bits, insn.immediate(op));
}

/** The BitOp of `insn` on its register operands (the caller knows which registers are followed). */
export function bitOpOf(insn: Instruction): BitOp {
  const mn = insn.mnemonic;
  const regDst = insn.opCount >= 1 && insn.op0Kind === OpKind.Register;
  const imm = insn.opCount === 2 && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory;
  if (regDst && imm) {
    const bits = registerBits(insn.op0Register);
    if (mn === Mnemonic.Shr || mn === Mnemonic.Sar) return { k: 'shr', n: Number(insn.immediate(1)) & 63, bits };
    if (mn === Mnemonic.Shl) return { k: 'shl', n: Number(insn.immediate(1)) & 63, bits };
    if (mn === Mnemonic.And) return { k: 'and', m: immediateOf(insn, 1, bits) };
    if (mn === Mnemonic.Test) return { k: 'test', m: immediateOf(insn, 1, bits) };
    if (mn === Mnemonic.Bt) return { k: 'bt', n: Number(insn.immediate(1)) & 63 };
    if (mn === Mnemonic.Cmp) return { k: 'look' };
  }
  if (mn === Mnemonic.Or || mn === Mnemonic.Xor || mn === Mnemonic.Not) return { k: 'merge' };
  if (regDst && insn.opCount === 2 && insn.op1Kind === OpKind.Register) {
    const src = insn.op1Register;
    // `add eax,eax` doubles: a left shift by one (clang's `level * 2` of a field at bit 0,
    // probe bitfield-single-revalue), not an arithmetic use that ends the value's bits. It
    // selects nothing: a length doubled whole (Rust's `cap * 2`, swc-html 1.16.1's Vec at
    // +0x28) decodes no field.
    if (mn === Mnemonic.Add && src === insn.op0Register) return { k: 'shl', n: 1, bits: registerBits(src), doubles: true };
    if (mn === Mnemonic.Mov || mn === Mnemonic.Movzx || mn === Mnemonic.Movsx || mn === Mnemonic.Movsxd) return { k: 'copy', bits: registerBits(src) };
    if (mn === Mnemonic.Cmp || (mn === Mnemonic.Test && insn.op0Register === src)) return { k: 'look' };
  }
  // Every other form of a bit operation (a register mask or count, BMI, a memory operand).
  return ANY_BITS.has(mn) ? { k: 'any' } : { k: 'use' };
}

/** A followed value: the word shifted right by `shift` (left when negative), carrying word bits `sel`. */
export interface BitValue {
  readonly shift: number;
  readonly sel: bigint;
  /** Bits the word has (the load's width): a mask reaching past them sees the sign or zero fill. */
  readonly width: number;
  /** Some mask, right shift or narrowing selected part of the word. */
  readonly narrowed: boolean;
  /**
   * Combined bit by bit with a value shifted otherwise (`shr ecx,4; xor eax,ecx`): its bits
   * no longer sit at known places, so a mask or bit test of it decodes every bit it carries.
   */
  readonly mixed: boolean;
}

/** The word bits a mask of the value at `v` selects (a mask bit past the word's top stands for the top bit: a sign fill). */
function wordBitsOf(v: BitValue, m: bigint): bigint {
  const placed = v.shift >= 0 ? m << BigInt(v.shift) : m >> BigInt(-v.shift);
  const top = lowBits(v.width);
  return (placed & top) | ((placed & ~top) !== 0n ? 1n << BigInt(v.width - 1) : 0n);
}

/** A value loaded whole from a word `width` bits wide. */
export function loadedValue(width: number): BitValue {
  return { shift: 0, sel: lowBits(width), width, narrowed: false, mixed: false };
}

/**
 * The value a bit-by-bit combination (`or`, `xor`, `not`) leaves from followed values `vs`: the
 * bits stay in place when all are shifted alike, else they are mixed.
 */
export function mergedValue(vs: readonly BitValue[]): BitValue {
  const sel = vs.reduce((a, v) => a | v.sel, 0n);
  const width = Math.max(...vs.map((v) => v.width));
  const narrowed = vs.some((v) => v.narrowed);
  const first = vs[0]!;
  if (vs.every((v) => v.shift === first.shift && !v.mixed)) return { shift: first.shift, sel, width, narrowed, mixed: false };
  return { shift: 0, sel, width, narrowed, mixed: true };
}

/**
 * One step on a followed value: the value after it (null: no longer followed bit by bit) and
 * the word bits it decodes there (0n: none).
 */
export function applyBitOp(v: BitValue, op: BitOp): { next: BitValue | null; decoded: bigint } {
  const used = v.narrowed ? v.sel : 0n;
  if (op.k === 'any' || (v.mixed && (op.k === 'shr' || op.k === 'and' || op.k === 'test' || op.k === 'bt'))) {
    return { next: op.k === 'test' || op.k === 'bt' ? v : { ...v, narrowed: true, mixed: true }, decoded: v.sel };
  }
  if (op.k === 'merge' || (v.mixed && (op.k === 'shl' || op.k === 'copy'))) return { next: v, decoded: 0n };
  switch (op.k) {
    case 'shr': {
      // `sar al,3` shifts only al's bits (a signed field at the top of a byte, gcc).
      const shift = v.shift + op.n;
      const sel = v.sel & wordBitsOf(v, lowBits(op.bits)) & ~lowBits(shift);
      return { next: { ...v, shift, sel, narrowed: v.narrowed || sel !== v.sel }, decoded: 0n };
    }
    case 'shl': {
      // A signed field's read: `shl eax,27; sar eax,27` keeps bits 0-4 (what passes the top is gone).
      const shifted = { ...v, shift: v.shift - op.n };
      const sel = v.sel & wordBitsOf(shifted, lowBits(op.bits));
      return { next: { ...shifted, sel, narrowed: v.narrowed || (sel !== v.sel && op.doubles !== true) }, decoded: 0n };
    }
    case 'and': {
      const sel = v.sel & wordBitsOf(v, op.m);
      return { next: { ...v, sel, narrowed: v.narrowed || sel !== v.sel }, decoded: 0n };
    }
    case 'copy': {
      const sel = v.sel & wordBitsOf(v, lowBits(op.bits));
      return { next: { ...v, sel, narrowed: v.narrowed || sel !== v.sel }, decoded: 0n };
    }
    case 'test':
      return { next: v, decoded: v.sel & wordBitsOf(v, op.m) };
    case 'bt':
      return { next: v, decoded: v.sel & wordBitsOf(v, 1n << BigInt(op.n)) };
    case 'look':
      return { next: v, decoded: used };
    case 'use':
      return { next: null, decoded: used };
  }
}

/** The word bits an in-place read decodes (`test byte [rcx+0x28],0x40`, `bt dword [rcx],3`); 0n for a whole-word compare. */
export function inPlaceDecoded(insn: Instruction): bigint {
  const width = memoryBits(insn);
  if (width === 0 || insn.opCount !== 2 || insn.op1Kind === OpKind.Register || insn.op1Kind === OpKind.Memory) return 0n;
  if (insn.mnemonic === Mnemonic.Test) return immediateOf(insn, 1, width);
  if (insn.mnemonic === Mnemonic.Bt) return 1n << BigInt((Number(insn.immediate(1)) & 63) % width);
  return 0n;
}
