/**
 * Whether a function of the image's own that a body calls with a read-only constant's address
 * in rdx and a count in r8 copies those bytes to rcx (image-constants.ts readOnlyCopy counts
 * such a call as the constant stored there). Taking any such call for a copy hid a relayout
 * (probe bitfield-helper-offset: copy_body skips the initialiser's 4-byte tag, `movzx
 * r9d,byte [rdx+rax+4]; mov [rcx+rax],r9b`, so the bit-field word at +0 comes from the
 * constant's +4 while the copy taken put the unchanged tag there; unpack's moved groups
 * linked to nothing, hotpatchable at all 8 builds, and carried the patched process prints
 * neither version's line). A plain copy moves each byte to the destination at the offset it
 * was read from the source: whatever the loop's shape, every constant the body adds to a
 * pointer derived from rdx (a `lea`/`add`/`inc` step, a load's displacement) it adds to one
 * derived from rcx too (a store's displacement, the same step). The body qualifies when:
 * - it is a tail jump to an imported memcpy/memmove (gcc -O2's copy_bytes), or
 * - every access through a pointer derived from rdx is a load and every one through a
 *   pointer derived from rcx a plain store (no read of the destination: a copy then
 *   modified), every other access a frame slot (gcc/clang -O0 keep the pointers there), no
 *   call, and the constants added on both sides are the same set (copy_bytes at -O0:
 *   `lea rax,[rdx+1]` and `lea rcx,[rax+1]`; at -O1 loads and stores at +0 of an index;
 *   clang -O2's vector loop +0 and +0x10 on both sides).
 * Each path is followed from the entry (walkPaths): a register keeps the pointer it was last
 * given on that path, a frame slot the pointer stored into it. The count in r8 need not be in
 * bytes: a helper copying r8 qwords given 5 for a 40-byte item (probe bitfield-helper-units)
 * was taken to copy 5 bytes, which left the bit-field word at +0x20 unseen; the unit is the
 * narrowest load of the source (copyOffset).
 */
import { Decoder, DecoderOptions, FlowControl, Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import type { MappedImage } from '../image/map-image.ts';
import { thunkImport } from '../image/import-thunks.ts';
import type { FunctionInfo } from '../image/types.ts';
import { fullRegister } from './added-field.ts';
import { opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** Imported functions that copy `r8` bytes from `rdx` to `rcx`. */
export const COPIERS = new Set(['memcpy', 'memmove']);

/** The argument a pointer derives from, the source (rdx) or the destination (rcx), and its offset from it. */
interface Pointer {
  readonly side: 'src' | 'dst';
  readonly off: number;
}

/** What the walk collected: each side's accessed offsets, the widths of the source's loads, and whether some instruction broke the copy's shape. */
interface Walk {
  readonly regs: Map<number, Pointer>;
  readonly slots: Map<string, Pointer>;
  readonly at: Record<Pointer['side'], Set<number>>;
  readonly widths: Set<number>;
  broken: boolean;
}

const PLAIN_STORES = new Set<number>([Mnemonic.Mov, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Movd, Mnemonic.Vmovups, Mnemonic.Vmovdqu, Mnemonic.Vmovaps, Mnemonic.Vmovdqa]);
/** String moves, by the bytes each element moves. */
export const STRING_MOVES = new Map<number, number>([[Mnemonic.Movsb, 1], [Mnemonic.Movsw, 2], [Mnemonic.Movsd, 4], [Mnemonic.Movsq, 8]]);
const ADD_SUB = new Set<number>([Mnemonic.Add, Mnemonic.Sub]);

/** How a helper copies: from which offset of rdx (`shift`), and how many bytes each unit of r8 counts (`unit`). */
export interface CopyShape {
  readonly shift: number;
  readonly unit: number;
}

/**
 * The offset from rdx that `callee`'s body copies from to rcx (0: a plain copy; probe
 * bitfield-helper-offset's copy_body: 4) and the bytes one unit of its count in r8 stands for,
 * or undefined when its body is no copy (see the header). The unit is the narrowest load of
 * the source: a helper counting qwords loads no narrower part (probe bitfield-helper-units:
 * copy_qwords given 5 copies 40 bytes; clang -O2's vector loop keeps an 8-byte scalar tail),
 * one counting bytes loads single bytes at least in its tail (copy_bytes: clang -O2's vector
 * loop and a byte loop). A helper counting bytes that copies only whole qwords is taken to
 * copy 8 bytes per unit: more than it copies, so more constant bytes seen stored, never fewer.
 */
export function copyOffset(img: MappedImage, callee: FunctionInfo): CopyShape | undefined {
  const at = { src: new Set<number>(), dst: new Set<number>() };
  const w: Walk = { regs: new Map([[Register.RDX, { side: 'src', off: 0 }], [Register.RCX, { side: 'dst', off: 0 }]]), slots: new Map(), at, widths: new Set(), broken: false };
  // The decoder copies its input into the wasm heap: the callee's span (its entry and ranges),
  // not the whole image, as register-effects.ts decodeEach does; an instruction may run up to
  // 15 bytes past a range's end.
  const lo = Math.min(callee.entry, ...callee.ranges.map((r) => r.start));
  const hi = Math.min(img.image.length, Math.max(callee.entry, ...callee.ranges.map((r) => r.end)) + 15);
  const decoder = new Decoder(64, img.image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  try {
    const decode = (rva: number): void => {
      decoder.position = rva - lo;
      decoder.ip = BigInt(rva);
      decoder.decodeOut(insn);
    };
    decode(callee.entry);
    if (insn.mnemonic === Mnemonic.Jmp && copierCalled(img, insn)) return { shift: 0, unit: 1 };
    if (!walkPaths(callee, decode, insn, w)) return undefined;
  } finally {
    insn.free();
    decoder.free();
  }
  if (at.dst.size === 0 || at.src.size !== at.dst.size || w.widths.size === 0) return undefined;
  // Each load's offset is a store's plus one shift.
  const shift = Math.min(...at.src) - Math.min(...at.dst);
  return shift >= 0 && [...at.dst].every((d) => at.src.has(d + shift)) ? { shift, unit: Math.min(...w.widths) } : undefined;
}

/** True when a jump reaches an imported memcpy/memmove: `jmp [rip+slot]` or a direct jump to a thunk. */
function copierCalled(img: MappedImage, insn: Instruction): boolean {
  if (insn.op0Kind === OpKind.Memory && insn.memoryBase === Register.RIP) return COPIERS.has(img.iat.get(Number(insn.memoryDisplacement))?.symbol ?? '');
  return insn.op0Kind === OpKind.NearBranch64 && COPIERS.has(thunkImport(img, Number(insn.nearBranchTarget))?.symbol ?? '');
}

/** The most instructions walkPaths follows: copy loops are short; a longer body is no copy helper. */
const WALK_LIMIT = 2000;

/**
 * Follows every path of `callee` from its entry, each instruction once, with the pointers the
 * first path reaching it holds (each branch's paths take their own copy: clang -O2's copy
 * points rdx at the destination on one path, reads the source through it on another). False
 * when some instruction breaks the copy's shape or a path leaves the function's ranges.
 */
function walkPaths(callee: FunctionInfo, decode: (rva: number) => void, insn: Instruction, w: Walk): boolean {
  const inside = (rva: number): boolean => callee.ranges.some((r) => rva >= r.start && rva < r.end);
  const seen = new Set<number>();
  const work: Array<{ rva: number; regs: Map<number, Pointer>; slots: Map<string, Pointer> }> = [{ rva: callee.entry, regs: w.regs, slots: w.slots }];
  while (work.length > 0) {
    const p = work.pop()!;
    const walk: Walk = { regs: p.regs, slots: p.slots, at: w.at, widths: w.widths, broken: false };
    for (let rva = p.rva; !seen.has(rva); ) {
      if (!inside(rva) || seen.size >= WALK_LIMIT) return false;
      seen.add(rva);
      decode(rva);
      step(insn, walk);
      if (walk.broken) return false;
      const flow = insn.flowControl;
      if (flow === FlowControl.Return) break;
      const next = rva + insn.length;
      if (flow === FlowControl.UnconditionalBranch) {
        rva = Number(insn.nearBranchTarget);
        continue;
      }
      if (flow === FlowControl.ConditionalBranch) work.push({ rva: Number(insn.nearBranchTarget), regs: new Map(walk.regs), slots: new Map(walk.slots) });
      else if (flow !== FlowControl.Next) return false;
      rva = next;
    }
  }
  return true;
}

/** The frame slot a memory operand names (`rsp` or `rbp` based, no index), as a key; null for any other. */
function frameSlot(insn: Instruction, w: Walk): string | null {
  const b = insn.memoryBase;
  if ((b !== Register.RSP && b !== Register.RBP) || insn.memoryIndex !== Register.None || w.regs.has(b)) return null;
  return `${b}:${Number(BigInt.asIntN(64, insn.memoryDisplacement))}`;
}

const disp = (insn: Instruction): number => Number(BigInt.asIntN(64, insn.memoryDisplacement));

/** Follows one instruction of the callee (see the header); sets `w.broken` on anything a plain copy does not do. */
function step(insn: Instruction, w: Walk): void {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Call || (mn === Mnemonic.Jmp && insn.op0Kind !== OpKind.NearBranch64)) return void (w.broken = true);
  const element = STRING_MOVES.get(mn);
  if (element !== undefined) {
    const [s, d] = [w.regs.get(Register.RSI), w.regs.get(Register.RDI)];
    if (s?.side !== 'src' || d?.side !== 'dst') return void (w.broken = true);
    w.widths.add(element);
    w.at.src.add(s.off);
    w.at.dst.add(d.off);
    return;
  }
  const count = insn.opCount;
  const dest = count > 0 && opKindOf(insn, 0) === OpKind.Register ? fullRegister(opRegisterOf(insn, 0)) : -1;
  let loaded: Pointer | undefined;
  for (let k = 0; k < count; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory || mn === Mnemonic.Lea || mn === Mnemonic.Nop) continue;
    const slot = frameSlot(insn, w);
    if (slot !== null) {
      // A pointer kept in the frame (-O0): stored into a slot, loaded back from it.
      if (k === 0) {
        const from = count === 2 && mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register ? w.regs.get(fullRegister(insn.op1Register)) : undefined;
        if (from === undefined) w.slots.delete(slot);
        else w.slots.set(slot, from);
      } else if (mn === Mnemonic.Mov && dest >= 0) loaded = w.slots.get(slot);
      continue;
    }
    const base = w.regs.get(fullRegister(insn.memoryBase));
    if (base === undefined || (insn.memoryIndex !== Register.None && w.regs.has(fullRegister(insn.memoryIndex)))) return void (w.broken = true);
    const store = k === 0 && count === 2;
    // Loads only from the source; only plain stores of a register to the destination.
    if (base.side === 'src' ? store : !store || !PLAIN_STORES.has(mn) || insn.op1Kind !== OpKind.Register) return void (w.broken = true);
    w.at[base.side].add(base.off + disp(insn));
    if (base.side === 'src') w.widths.add(MemorySizeExt.size(insn.memorySize));
  }
  if (dest >= 0) pointerStep(insn, w, dest, loaded);
}

/** The pointer `dest` holds after `insn`: copied, loaded from a slot, moved by a constant, or none. */
function pointerStep(insn: Instruction, w: Walk, dest: number, loaded: Pointer | undefined): void {
  const mn = insn.mnemonic;
  const had = w.regs.get(dest);
  w.regs.delete(dest);
  if (loaded !== undefined) return void w.regs.set(dest, loaded);
  if (mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register) {
    const p = w.regs.get(fullRegister(insn.op1Register));
    if (p !== undefined) w.regs.set(dest, p);
    return;
  }
  if (mn === Mnemonic.Lea) {
    const p = w.regs.get(fullRegister(insn.memoryBase));
    // `lea rax,[rdx+rcx]`: two pointers combined, no pointer.
    if (p === undefined || (insn.memoryIndex !== Register.None && w.regs.has(fullRegister(insn.memoryIndex)))) return;
    w.regs.set(dest, { side: p.side, off: p.off + disp(insn) });
    return;
  }
  if (had === undefined) return;
  if (mn === Mnemonic.Inc || mn === Mnemonic.Dec) w.regs.set(dest, { side: had.side, off: had.off + (mn === Mnemonic.Inc ? 1 : -1) });
  else if (ADD_SUB.has(mn) && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory) {
    const c = Number(BigInt.asIntN(64, insn.immediate(1)));
    w.regs.set(dest, { side: had.side, off: had.off + (mn === Mnemonic.Add ? c : -c) });
  } else if (ADD_SUB.has(mn) && insn.op1Kind === OpKind.Register && !w.regs.has(fullRegister(insn.op1Register))) {
    // An index added: still a pointer into the same buffer. A pointer minus a pointer is a distance.
    w.regs.set(dest, had);
  }
}
