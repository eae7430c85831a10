/**
 * Constants a body loads from the image rather than encoding them as immediates (issue #14,
 * probe bitfield-rodata): clang copies a 16-byte compound literal as `movaps xmm0,[rip+X];
 * movups [rcx],xmm0`, gcc a part of one as `mov rax,[rip+X]; mov [rcx+4],rax`. A load of bytes
 * that lie wholly in a section the image maps without write access, none of them patched by a
 * base relocation, reads the same value in every process that maps the image: a constant, as
 * an immediate is. Evidence: the mapped image (sections' characteristics, base relocations)
 * and the load's RIP-relative address (the decoder's ip is the RVA). A copy of such bytes by a
 * call to an imported memcpy/memmove or by `rep movs` (probe bitfield-memcpy: a named `static
 * const` struct copied at -O0 and gcc -Os), up to a page long (probe bitfield-long-copy: 96
 * bytes), or by a call to a function of the image's own given the same arguments (probe
 * bitfield-helper-copy) stores them as one constant too; evidence: the import table (the
 * callee's IAT slot), the call's target and the `lea` addresses and constant count the copy's
 * argument registers hold, and for a function of the image's own, its body
 * (bitfield-copy-callee.ts: probe bitfield-helper-offset's callee copies from +4; probe
 * bitfield-helper-units' counts qwords, the bytes copied its count times 8).
 * Also: which registers an instruction writes (iced's used registers), so a tracker of
 * register constants drops each one any write it does not model replaces.
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register } from 'iced-x86';
import { lowerBound } from '../../common/search.ts';
import { type MappedImage, sectionAt } from '../image/map-image.ts';
import { thunkImport } from '../image/import-thunks.ts';
import type { FunctionInfo, RvaRange } from '../image/types.ts';
import { COPIERS, type CopyShape, copyOffset, STRING_MOVES } from './bitfield-copy-callee.ts';
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

/** A constant a register holds: its value and how many of its low bits are known (heldValue). */
export interface HeldConstant {
  readonly v: bigint;
  readonly bits: number;
}

/** Every bit of a register known: a write of a dword, qword or vector register (a dword write zeroes the upper half). */
export const ALL_BITS = 512;

/**
 * How many low bits of its full register `insn`'s write of its first operand leaves known: a
 * byte or word register's 8 or 16 (the upper bytes keep whatever they held: clang -O0's `mov
 * cl,[rsp+1]; and cl,0xf8` leaves rcx's upper bytes unknown), none for ah/ch/dh/bh (bits
 * 8-15), else all.
 */
export function writtenBits(insn: Instruction): number {
  if (insn.op0Kind !== OpKind.Register) return ALL_BITS;
  const r = insn.op0Register;
  if (r >= Register.AH && r <= Register.BH) return 0;
  if (r >= Register.AL && r <= Register.R15L) return 8;
  return r >= Register.AX && r <= Register.R15W ? 16 : ALL_BITS;
}

/** The constant full register `r` holds, when at least its low `bits` bits are known. */
export function heldValue(held: ReadonlyMap<number, HeldConstant>, r: number, bits: number): bigint | undefined {
  const h = held.get(r);
  return h !== undefined && h.bits >= bits ? h.v : undefined;
}

/** An address a register holds: read-only image bytes (`lea r,[rip+X]`: their RVA) or a displacement from a base register (`lea r,[b+d]`). */
export type Address = { readonly rva: number } | { readonly base: number; readonly disp: number };

/** Keeps `addrs` (full register -> the address it holds) across `insn`: a `lea` sets one, `mov r,r2` copies one, any other write drops it. */
export function trackAddresses(insn: Instruction, addrs: Map<number, Address>): void {
  const to = insn.opCount === 2 && insn.op0Kind === OpKind.Register ? fullRegister(insn.op0Register) : -1;
  let a: Address | undefined;
  if (to >= 0 && insn.mnemonic === Mnemonic.Lea && insn.memoryIndex === Register.None) {
    a = insn.memoryBase === Register.RIP ? { rva: Number(insn.memoryDisplacement) } : { base: fullRegister(insn.memoryBase), disp: Number(BigInt.asIntN(64, insn.memoryDisplacement)) };
  } else if (to >= 0 && insn.mnemonic === Mnemonic.Mov && insn.op1Kind === OpKind.Register) a = addrs.get(fullRegister(insn.op1Register));
  dropWritten(insn, addrs);
  if (a !== undefined) addrs.set(to, a);
}

/**
 * The widest copy followed: a page. Its every byte offset counts as a word stored
 * (bitfield-immediates.ts immediateStores, each offset's value cut to 64 bytes). A 64-byte cap
 * left a 96-byte template's bit-field word unseen (probe bitfield-long-copy: `mov r8d,0x60;
 * call memcpy` at -O0, `rep movsd` with ecx 0x18 at -Os).
 */
const COPY_BYTES = 4096;


/**
 * The constant bytes a copy moves, and where to: read-only bytes, or (given `frameBytes`) the
 * frame slots a literal was built in (clang -O0 builds a large compound literal in a stack
 * temporary and copies it by `lea rdx,[rsp+X]; mov r8d,0x60; call memcpy`, probe
 * bitfield-literal-stack). The copy: a call (or tail jump) to an imported
 * memcpy/memmove, `lea rdx,[rip+X]; mov r8d,n; call memcpy` (gcc -O0 and clang -O0 copying a
 * named `static const` struct, probe bitfield-memcpy), through the import slot or a `jmp
 * [rip+slot]` thunk, or to a function of the image's own out of `body` that `callee` finds
 * and whose body copies (ownCall); or `rep movs` from `lea rsi,[rip+X]` with a constant count
 * in rcx (gcc -Os). The destination is the `lea` base and displacement rcx (rdi) holds, else
 * rcx (rdi) at +0.
 */
export function readOnlyCopy(img: MappedImage, insn: Instruction, addrs: ReadonlyMap<number, Address>, held: ReadonlyMap<number, HeldConstant>, body?: readonly RvaRange[], callee?: (rva: number) => FunctionInfo | undefined, frameBytes?: (disp: number, bytes: number) => bigint | undefined): ConstantCopy | undefined {
  const unit = insn.hasRepPrefix && insn.op0Kind === OpKind.MemoryESRDI ? STRING_MOVES.get(insn.mnemonic) : undefined;
  const branch = insn.mnemonic === Mnemonic.Call || insn.mnemonic === Mnemonic.Jmp;
  const imported = branch && COPIERS.has(importCalled(img, insn) ?? '');
  const own = branch && !imported ? ownCall(img, insn, body, callee) : undefined;
  if (unit === undefined && !imported && own === undefined) return undefined;
  const [from, count, to] = unit === undefined ? [Register.RDX, Register.R8, Register.RCX] : [Register.RSI, Register.RCX, Register.RDI];
  const src = addrs.get(from);
  const units = Number(heldValue(held, count, 64) ?? 0n);
  const framed = src !== undefined && 'base' in src && src.base === Register.RSP && frameBytes !== undefined;
  if (src === undefined || (!('rva' in src) && !framed) || units < 1 || units > COPY_BYTES) return undefined;
  // Only now, the arguments those of a copy, is the callee's body read: the offset it copies
  // from, and the bytes each unit of its count copies (probe bitfield-helper-units: qwords).
  const shape = own === undefined ? { shift: 0, unit: unit ?? 1 } : copierMemo(img, own);
  if (shape === undefined) return undefined;
  const n = units * shape.unit;
  if (n > COPY_BYTES) return undefined;
  const v = 'rva' in src ? readOnlyBytes(img, src.rva + shape.shift, n) : frameBytes?.(src.disp + shape.shift, n);
  if (v === undefined) return undefined;
  const dest = addrs.get(to);
  const kind = 'rva' in src ? 'rodata' : 'frame';
  return dest !== undefined && 'base' in dest ? { base: `${dest.base}`, disp: dest.disp, bytes: n, v, from: kind } : { base: `${to}`, disp: 0, bytes: n, v, from: kind };
}

/** A copy of constant bytes: the destination's base register (as a word key's base) and displacement, its width, value, and whether it came from read-only bytes or frame slots. */
export interface ConstantCopy {
  readonly base: string;
  readonly disp: number;
  readonly bytes: number;
  readonly v: bigint;
  readonly from: 'rodata' | 'frame';
}

/**
 * A call to an imported memset filling frame slots with a constant byte (clang -O0 clears a
 * mostly zero compound literal's stack temporary by `lea rcx,[rsp+X]; xor edx,edx; mov
 * r8d,0x60; call memset`, then stores its other members: probe bitfield-literal-zeros): the
 * slots' stack displacement, how many, and the byte.
 */
export function frameFill(img: MappedImage, insn: Instruction, addrs: ReadonlyMap<number, Address>, held: ReadonlyMap<number, HeldConstant>): { disp: number; bytes: number; fill: number } | undefined {
  if ((insn.mnemonic !== Mnemonic.Call && insn.mnemonic !== Mnemonic.Jmp) || importCalled(img, insn) !== 'memset') return undefined;
  const dest = addrs.get(Register.RCX);
  const fill = heldValue(held, Register.RDX, 8);
  const n = Number(heldValue(held, Register.R8, 64) ?? 0n);
  if (dest === undefined || !('base' in dest) || dest.base !== Register.RSP || fill === undefined || n < 1 || n > COPY_BYTES) return undefined;
  return { disp: dest.disp, bytes: n, fill: Number(fill & 0xffn) };
}

/**
 * The function of the image's own out of `body` (the caller's code ranges) a call (or tail
 * jump) reaches, when `callee` finds it: a statically linked memcpy or a helper of the DLL's
 * own (probe bitfield-helper-copy: `mov r8d,0x24; lea rdx,[rip+X]; jmp copy_bytes`, a byte
 * loop) copies as the import does when its body is a copy, from the offset it reads at
 * (bitfield-copy-callee.ts: probe bitfield-helper-offset copies from +4).
 */
function ownCall(img: MappedImage, insn: Instruction, body: readonly RvaRange[] | undefined, callee: ((rva: number) => FunctionInfo | undefined) | undefined): FunctionInfo | undefined {
  if (body === undefined || callee === undefined || insn.op0Kind !== OpKind.NearBranch64) return undefined;
  const to = Number(insn.nearBranchTarget);
  if (thunkImport(img, to) !== undefined || body.some((r) => to >= r.start && to < r.end)) return undefined;
  return callee(to);
}

/** copyOffset, once per function (null: no copy). */
const copiers = new WeakMap<FunctionInfo, CopyShape | null>();
function copierMemo(img: MappedImage, f: FunctionInfo): CopyShape | undefined {
  let c = copiers.get(f);
  if (c === undefined) copiers.set(f, (c = copyOffset(img, f) ?? null));
  return c ?? undefined;
}

/** The symbol of the import a call or jump reaches: `call [rip+slot]`, or a direct branch to a `jmp [rip+slot]` thunk. */
function importCalled(img: MappedImage, insn: Instruction): string | undefined {
  if (insn.op0Kind === OpKind.Memory && insn.memoryBase === Register.RIP) return img.iat.get(Number(insn.memoryDisplacement))?.symbol;
  if (insn.op0Kind !== OpKind.NearBranch64) return undefined;
  return thunkImport(img, Number(insn.nearBranchTarget))?.symbol;
}
