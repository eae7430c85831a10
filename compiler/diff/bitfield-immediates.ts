/**
 * A bit-field word stored as one immediate (issue #14): `*f = (struct flags){.kind = 3, .level
 * = 11, .on = 1}` folds every field into `mov dword [rcx],0x15b` (gcc -O1, clang -O1/-O2/-Os).
 * No shift, no mask, no read of the word: bitfield-layout.ts (read-modify-write stores) and
 * bitfield-packed.ts (stores of a register computed by shifts) see no field, so the fields
 * swapping places (probe bitfield-immediate-reorder: v1 kind bits 0-2, level 3-7; v2 level
 * 0-4, kind 5-7, the immediate 0x15b -> 0x16b) was called hotpatchable, and patched live new
 * unpack decoded old init's word with the new layout (neither version's line).
 * The immediate alone does not tell a move from a new value (a fix that stores another level),
 * so the link is a reader, as bitfield-packed-moves.ts links a packer: a changed function whose
 * old body stores at a displacement only immediates its new body does not, and whose new body
 * stores others there (a value replaced), is a writer of the word; a changed reader of that
 * displacement whose decoded bit groups (bitfield-readers.ts `fields`) moved, some group only
 * its old body decodes and some only its new body decodes, both touching the bits the
 * immediates differ in, reads the word in another layout, when one immediate replaced another
 * and the old one read through the old-only groups gives the values the new one gives through
 * the new-only groups (each field kept its value, only its place moved). Groups that are a
 * whole byte, word, dword or qword from bit 0 are values read whole, no field. Without the
 * last two cuts swc-html 1.15.24 -> 1.15.33 refused 3, then 11 functions (Rust enum tags
 * stored at +0 and read through niche bits). A move that also changes a field's value
 * (probe bitfield-immediate-revalue) is a move too when the reader's moved groups are the same
 * widths over the same bits (permuted, below). A 64-bit word is stored from a register loaded
 * with the imm64 (probe bitfield-immediate-wide): such constants count as immediates, and a
 * qword also stores the dword at +4 (probe bitfield-immediate-second): each byte-aligned
 * upper part of a stored word is stored there too. A word stored in parts (gcc -O1's `mov byte
 * [rcx],0x5b; mov byte [rcx+1],0x59`, probe bitfield-immediate-halves) counts as the word its
 * adjacent parts make, gcc -O2's `mov eax,0x595b; mov [rcx],ax` as that immediate, and a reader's
 * groups in the bytes above the word's displacement count in the word (gcc -Os reads the high
 * byte alone: probe bitfield-immediate-bytes). Two fields of equal width swapped leave the
 * reader's groups as they were: then the values the immediates hold in them swap, and the reader
 * decodes them along other paths (bitfield-immediate-halves). clang -O0's compound literal,
 * built in stack slots and copied, counts as the constant the slots hold (followFrame): a
 * dword slot, a qword slot (bitfield-immediate-wide), a qword copied from two dword slots
 * (bitfield-immediate-second), qwords copied from byte slots built through 8-bit registers
 * (bitfield-relayout-copy), and a large literal's temporary, memset or filled by a copy of
 * read-only bytes, its other members stored, then copied whole by memcpy (probes
 * bitfield-literal-zeros, bitfield-literal-stack: image-constants.ts frameFill, readOnlyCopy). A constant loaded from read-only image bytes counts as one
 * (image-constants.ts: clang's 16-byte literal copied by `movaps xmm0,[rip+X]; movups
 * [rcx],xmm0`, probe bitfield-rodata), a vector register stored whole as the word it holds;
 * one rewritten in most bytes is a move when its reader explains every changed bit, each
 * qword keeps its set bits (rewrittenWhole: probes bitfield-relayout-copy, -partial), or the
 * reader's own groups moved, each keeping its value (movedGroups: probe bitfield-relayout-revalue,
 * a level the reader does not decode also changed). A reader of one field that moved and changed
 * its value is linked by the bits beside it, which moved across with their value kept
 * (tradedPlaces: probe bitfield-single-revalue).
 * Any write to a register the tracker does not model (`inc`, `neg`, `add r,imm`, `mul`'s rdx)
 * drops its constant; a store through a register holding an address in the frame drops every
 * slot, and once the frame's address escaped (escapeFrame) so does a store through any other
 * pointer. Not seen: a word built in steps through registers alone. Twins bitfield-immediate-fix (a
 * flag set in a new bit, unpack decoding the same groups with another formula),
 * bitfield-immediate-revalue-fix, -wide-fix, -halves-fix, -bytes-fix and bitfield-rodata-fix
 * (another value stored, the layout kept) stay hotpatchable.
 */
import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import { ARG_REGISTERS, fullRegister } from './added-field.ts';
import { lowBits, lowestBit, memoryBits, registerBits } from './bitfield-bits.ts';
import { bodySteps, type StepMemo, type WordKeys, type WordOf, wordOf } from './bitfield-layout.ts';
import { type ReadScan, readsDiffer } from './bitfield-readers.ts';
import { decodeEach } from './register-effects.ts';
import { type Address, ALL_BITS, dropWritten, frameFill, type HeldConstant, heldValue, memoryBytes, PLAIN_MOVES, readOnlyCopy, readOnlyLoad, trackAddresses, writtenBits } from './image-constants.ts';
import type { MappedImage } from '../image/map-image.ts';
import { opKindOf, opRegisterOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

const IMMEDIATES = new Set<number>([OpKind.Immediate8, OpKind.Immediate16, OpKind.Immediate32, OpKind.Immediate8to32, OpKind.Immediate32to64]);

/**
 * How a body stores a constant: one `mov [m],imm`, a register loaded with it (`mov r,imm`), a
 * stack slot that built it (followFrame), adjacent stores of its parts (mergeRuns), or the upper
 * bytes of a wider constant stored whole (immediateStores).
 */
export type StoreSource = 'immediate' | 'register' | 'frame' | 'rodata' | 'parts' | 'upper';

/** One constant a body stores: its word (base key and displacement), width in bytes, value and how it was stored. */
interface Stored {
  readonly base: string;
  readonly disp: number;
  readonly bytes: number;
  readonly value: bigint;
  readonly how: StoreSource;
}

/**
 * The constants a body stores, in address order: `mov [m],imm` as the store's width sees it;
 * a register stored that a `mov r64,imm64` loaded (a 64-bit word: `movabs rax,imm64; mov
 * [rcx],rax`, no store takes a 64-bit immediate; probe bitfield-immediate-wide), or that a
 * narrower `mov r,imm` loaded when the store is a word or wider and the stored value spans
 * more than one byte (gcc -O2's `mov eax,0x595b; mov [rcx],ax`, probe bitfield-immediate-halves).
 * A constant built in a stack slot and copied counts too (followFrame).
 * null entries break a run of adjacent stores (a call, a store of some other value).
 */
function storedConstants(img: MappedImage, f: FunctionInfo, word: WordOf | undefined, memo: StepMemo | undefined, fns: FunctionTable | undefined): Array<Stored | null> {
  const out: Array<Stored | null> = [];
  const held = new Map<number, Held>();
  const slots = new Map<number, number>();
  const frame: Frame = { taken: false, aliases: new Map() };
  const addrs = new Map<number, Address>();
  const steps = bodySteps(img.image, f, word, memo);
  let at = 0;
  decodeEach(img.image, f.decoded.insns, (insn) => {
    const step = steps[at++]!;
    const st = step.store ?? vectorStore(insn, word ?? wordOf);
    const bits = st !== null && step.store === null ? 8 * memoryBytes(insn) : memoryBits(insn);
    const h = PLAIN_MOVES.has(insn.mnemonic) && insn.opCount === 2 && insn.op1Kind === OpKind.Register ? held.get(st?.src ?? -1) : undefined;
    // A register whose stored bits are not all known (a byte written into it) stores no constant.
    const known = h !== undefined && h.bits >= bits ? h : undefined;
    // Only an imm64, or a multi-byte constant stored as a word or wider: a byte-sized constant
    // stored from a register is a value the body reuses (swc-html 1.15.33's 0x7a244e, `mov
    // eax,1`/`2` stored as a byte, read by Rust's binary formatting of a byte).
    const fromReg = known !== undefined && (known.wide || (bits >= 16 && BigInt.asUintN(bits, known.v) > 0xffn)) ? known.v : undefined;
    const direct = insn.mnemonic === Mnemonic.Mov && insn.opCount === 2 && IMMEDIATES.has(insn.op1Kind);
    const stored = !PLAIN_MOVES.has(insn.mnemonic) || insn.opCount !== 2 ? undefined : direct ? insn.immediate(1) : fromReg;
    const framed = followFrame(insn, held, slots, frame);
    const loaded = readOnlyLoad(img, insn);
    const copied = readOnlyCopy(img, insn, addrs, held, f.ranges, fns === undefined ? undefined : (rva) => fns.byEntry.get(rva), (disp, n) => readSlot(slots, disp, n));
    const filled = frameFill(img, insn, addrs, held);
    trackAddresses(insn, addrs);
    // Every register the instruction writes loses its constant, but the one it is known to leave.
    dropWritten(insn, held);
    if (step.writes >= 0) {
      const known = writtenBits(insn);
      if (step.movImm !== null) held.set(step.writes, { v: step.movImm, bits: known, wide: insn.op1Kind === OpKind.Immediate64, how: 'register' });
      else if (framed !== undefined) held.set(step.writes, { v: framed, bits: known, wide: false, how: 'frame' });
      else if (loaded !== undefined) held.set(step.writes, { v: loaded.v, bits: known, wide: loaded.bytes >= 8, how: 'rodata' });
    }
    if (copied !== undefined) out.push({ base: copied.base, disp: copied.disp, bytes: copied.bytes, value: copied.v, how: copied.from });
    if (step.barrier || copied !== undefined) {
      held.clear();
      addrs.clear();
      slots.clear();
      out.push(null);
    }
    // A stack temporary filled or copied into keeps those bytes past the call (probes
    // bitfield-literal-zeros, bitfield-literal-stack: clang -O0's memset or memcpy of a large
    // literal's first part, then stores of the rest, then one memcpy of it all).
    if (filled !== undefined) for (let k = 0; k < filled.bytes; k++) slots.set(filled.disp + k, filled.fill);
    if (copied !== undefined && copied.base === `${Register.RSP}`) for (let k = 0; k < copied.bytes; k++) slots.set(copied.disp + k, Number((copied.v >> BigInt(8 * k)) & 0xffn));
    if (st === null) return;
    if (stored === undefined || st.disp < 0 || bits === 0 || bits % 8 !== 0) return void out.push(null);
    const how = direct ? 'immediate' : (h?.how ?? 'register');
    out.push({ base: st.key.slice(0, st.key.lastIndexOf(':')), disp: st.disp, bytes: bits / 8, value: BigInt.asUintN(bits, stored), how });
  });
  return out;
}

/** A constant a register holds: its value and known low bits, whether an imm64 or a qword load gave it (a 64-bit word), and where it came from. */
interface Held extends HeldConstant {
  readonly wide: boolean;
  readonly how: 'register' | 'frame' | 'rodata';
}

/** A vector register stored whole by a plain move (`movups [rcx],xmm0`): the word and the register, as bodySteps records a `mov` store. */
function vectorStore(insn: Instruction, word: WordOf): { key: string; disp: number; src: number } | null {
  if (!PLAIN_MOVES.has(insn.mnemonic) || insn.mnemonic === Mnemonic.Mov || insn.opCount !== 2 || insn.op0Kind !== OpKind.Memory || insn.op1Kind !== OpKind.Register) return null;
  const w = word(insn);
  return w === null ? null : { key: w.key, disp: w.disp, src: fullRegister(insn.op1Register) };
}

/**
 * clang -O0 builds a compound literal in a stack slot and copies it (probe
 * bitfield-immediate-reorder: `mov dword [rsp+4],0`, then per field `mov ecx,[rsp+4]; and
 * ecx,imm; or ecx,imm; mov [rsp+4],ecx`, last `mov ecx,[rsp+4]; mov [rax],ecx`): the slots'
 * bytes (`slots`, by stack displacement) are followed through such moves and `and`/`or`/`xor`
 * of an immediate, a slot or a register holding a constant, in registers of any width. A
 * 64-bit literal is a qword slot (probe bitfield-immediate-wide: `mov qword [rsp],0`, fields
 * merged by `movabs rcx,mask; and rcx,[rsp]; movabs rdx,bits; or rcx,rdx`) or a qword loaded
 * over two dword slots (probe bitfield-immediate-second: the bit-field word built at
 * [rsp+4], `mov rcx,[rsp]` copies both). A literal of byte-sized words is built byte by byte
 * through 8-bit registers (probe bitfield-relayout-copy: `mov byte [rsp+1],0; mov cl,[rsp+1];
 * and cl,0xf8; or cl,5; mov [rsp+1],cl`, then `mov rcx,[rsp]; mov [rax],rcx`): a byte or word
 * register holds only its low bits known (image-constants.ts writtenBits), so a wider read of
 * it stores no constant. A slot read by `movzx` or a vector load (`movups xmm0,[rsp]`) counts
 * too. Returns the constant `insn` leaves in its destination register (its low bits, for a
 * byte or word register), if known.
 */
function followFrame(insn: Instruction, held: ReadonlyMap<number, HeldConstant>, slots: Map<number, number>, frame: Frame): bigint | undefined {
  const mn = insn.mnemonic;
  escapeFrame(insn, slots, frame);
  if (mn === Mnemonic.Push || mn === Mnemonic.Pop || (insn.op0Kind === OpKind.Register && insn.op0Register === Register.RSP)) {
    // The frame moved: its displacements name other slots now.
    slots.clear();
    return undefined;
  }
  const slot = (k: number): number | null => (opKindOf(insn, k) === OpKind.Memory && insn.memoryBase === Register.RSP && insn.memoryIndex === Register.None ? Number(insn.memoryDisplacement) : null);
  const bytes = memoryBytes(insn);
  const to = insn.opCount > 0 ? slot(0) : null;
  // `inc`/`not`/`neg` of a slot: no longer the constant stored.
  if (insn.opCount !== 2) {
    if (to !== null) writeSlot(slots, to, bytes, undefined);
    return undefined;
  }
  // A register's constant counts in as many bits as it has known (a byte written into rcx: cl only).
  const constant = (): bigint | undefined => {
    if (FRAME_IMMEDIATES.has(insn.op1Kind)) return insn.immediate(1);
    if (insn.op1Kind !== OpKind.Register) return undefined;
    const r = insn.op1Register;
    return heldValue(held, fullRegister(r), isVector(r) ? 8 * bytes || ALL_BITS : registerBits(r));
  };
  if (to !== null) {
    writeSlot(slots, to, bytes, PLAIN_MOVES.has(mn) ? constant() : undefined);
    return undefined;
  }
  if (insn.op0Kind !== OpKind.Register) return undefined;
  const from = slot(1);
  // A vector loaded from slots (`movups xmm0,[rsp]`) holds their bytes.
  if (isVector(insn.op0Register)) return PLAIN_MOVES.has(mn) && from !== null ? readSlot(slots, from, bytes) : undefined;
  const width = registerBits(insn.op0Register);
  if (writtenBits(insn) === 0) return undefined;
  // `movzx ecx,byte [rsp+3]`: the slot's byte, zero-extended.
  if (mn === Mnemonic.Movzx) return from !== null ? readSlot(slots, from, bytes) : undefined;
  if (mn === Mnemonic.Mov) return from !== null && 8 * bytes === width ? readSlot(slots, from, bytes) : undefined;
  // `xor edx,edx`: zero, whatever the register held (memset's fill byte, probe bitfield-literal-zeros).
  if (mn === Mnemonic.Xor && insn.op1Kind === OpKind.Register && insn.op1Register === insn.op0Register) return 0n;
  const cur = heldValue(held, fullRegister(insn.op0Register), width);
  const src = from !== null ? (8 * bytes === width ? readSlot(slots, from, bytes) : undefined) : constant();
  if (cur === undefined || src === undefined) return undefined;
  const [a, b] = [BigInt.asUintN(width, cur), BigInt.asUintN(width, src)];
  if (mn === Mnemonic.And) return a & b;
  if (mn === Mnemonic.Or) return a | b;
  return mn === Mnemonic.Xor ? a ^ b : undefined;
}

/** An XMM, YMM or ZMM register. */
const isVector = (r: Register): boolean => r >= Register.XMM0 && r <= Register.ZMM31;

/** Instructions with a memory first operand that only read it. */
const READS_FIRST = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt, Mnemonic.Push, Mnemonic.Nop, Mnemonic.Prefetchnta, Mnemonic.Prefetcht0, Mnemonic.Prefetcht1, Mnemonic.Prefetcht2, Mnemonic.Prefetchw]);
const MEMORY_KINDS = new Set<number>([OpKind.Memory, OpKind.MemoryESRDI, OpKind.MemoryESEDI]);

/** Where the frame's slots may be written from: registers that hold an address in the frame (a frame pointer, `lea r,[rsp+X]`), and whether its address escaped. */
interface Frame {
  taken: boolean;
  readonly aliases: Map<number, true>;
}

/**
 * A store that may write the frame's slots forgets them all. A register given the frame's
 * address (`mov rbp,rsp`, `lea rbp,[rsp+X]`, `lea rcx,[rsp+X]`, or a copy of such a register)
 * is an alias: a store addressed from it writes the frame. The frame's address escapes when an
 * alias or rsp is stored to memory, pushed, combined with another value, or passed in an
 * argument register to a call: from then on a store through any pointer not addressed from
 * rsp may write a slot. A frame pointer alone is no escape: a store through another pointer
 * leaves the rsp slots as they are.
 */
function escapeFrame(insn: Instruction, slots: Map<number, number>, frame: Frame): void {
  const count = insn.opCount;
  if (count === 0) return;
  const mn = insn.mnemonic;
  const isFrame = (r: number): boolean => r === Register.RSP || frame.aliases.has(r);
  const k0 = opKindOf(insn, 0);
  if (MEMORY_KINDS.has(k0) && !READS_FIRST.has(mn)) {
    const base = k0 === OpKind.Memory ? fullRegister(insn.memoryBase) : Register.RDI;
    if (base !== Register.RSP && (frame.taken || frame.aliases.has(base))) slots.clear();
  }
  if (mn === Mnemonic.Call || (mn === Mnemonic.Jmp && k0 !== OpKind.NearBranch64)) {
    if (ARG_REGISTERS.some(([r]) => frame.aliases.has(r))) frame.taken = true;
    for (const r of VOLATILE_REGISTERS) frame.aliases.delete(r);
    return;
  }
  const dest = k0 === OpKind.Register ? fullRegister(insn.op0Register) : -1;
  let copied = mn === Mnemonic.Lea && isFrame(fullRegister(insn.memoryBase));
  if (mn === Mnemonic.Push && k0 === OpKind.Register && isFrame(dest)) frame.taken = true;
  for (let k = 1; k < count && !copied; k++) {
    if (opKindOf(insn, k) !== OpKind.Register || !isFrame(fullRegister(opRegisterOf(insn, k)))) continue;
    if (mn === Mnemonic.Mov && dest >= 0) copied = true;
    else if (mn !== Mnemonic.Cmp && mn !== Mnemonic.Test && dest !== Register.RSP) frame.taken = true;
  }
  // `add rbp,0x10`: still an address in the frame.
  const moved = frame.aliases.has(dest) && (mn === Mnemonic.Add || mn === Mnemonic.Sub) && FRAME_IMMEDIATES.has(insn.op1Kind);
  dropWritten(insn, frame.aliases);
  if ((copied || moved) && dest >= 0 && dest !== Register.RSP) frame.aliases.set(dest, true);
}

/** `mov` immediates a frame slot or register takes (a qword's sign-extended imm8/imm32 too). */
const FRAME_IMMEDIATES = new Set<number>([...IMMEDIATES, OpKind.Immediate8to64, OpKind.Immediate64]);

/** Records the `bytes`-wide store of `v` (undefined: not a known constant) at stack displacement `disp`, byte by byte. */
function writeSlot(slots: Map<number, number>, disp: number, bytes: number, v: bigint | undefined): void {
  // A store of no known width (a string store) forgets the qword it may overlap.
  const n = bytes > 0 ? bytes : 8;
  for (let k = 0; k < n; k++) {
    if (v === undefined || bytes === 0) slots.delete(disp + k);
    else slots.set(disp + k, Number((v >> BigInt(8 * k)) & 0xffn));
  }
}

/** The `bytes`-wide constant the slot bytes at `disp` hold, when every byte is known (up to a page: a stack temporary copied whole). */
function readSlot(slots: ReadonlyMap<number, number>, disp: number, bytes: number): bigint | undefined {
  if (bytes < 1 || bytes > 4096) return undefined;
  let v = 0n;
  for (let k = bytes - 1; k >= 0; k--) {
    const b = slots.get(disp + k);
    if (b === undefined) return undefined;
    v = (v << 8n) | BigInt(b);
  }
  return v;
}

/**
 * Adjacent constants stored one after another into one object (the same base, each next store
 * right above or below the span so far, up to 8 bytes) as one word: gcc -O1 stores a 16-bit
 * bit-field word as `mov byte [rcx],0x5b; mov byte [rcx+1],0x59` (probe
 * bitfield-immediate-halves), which its readers load whole.
 */
function mergeRuns(stores: ReadonlyArray<Stored | null>): Stored[] {
  const out: Stored[] = [];
  for (const s of stores) {
    const r = out.at(-1);
    if (s === null) {
      if (r !== undefined && r.bytes > 0) out.push({ base: '', disp: 0, bytes: 0, value: 0n, how: 'parts' });
      continue;
    }
    if (r !== undefined && r.bytes > 0 && s.base === r.base && r.bytes + s.bytes <= 8) {
      if (s.disp === r.disp + r.bytes) {
        out[out.length - 1] = { base: r.base, disp: r.disp, bytes: r.bytes + s.bytes, value: r.value | (s.value << BigInt(8 * r.bytes)), how: 'parts' };
        continue;
      }
      if (s.disp + s.bytes === r.disp) {
        out[out.length - 1] = { base: r.base, disp: s.disp, bytes: r.bytes + s.bytes, value: s.value | (r.value << BigInt(8 * s.bytes)), how: 'parts' };
        continue;
      }
    }
    out.push(s);
  }
  // The zero-width entries only marked breaks.
  return out.filter((s) => s.bytes > 0);
}

/**
 * Per displacement, the constants a body stores there (runs of adjacent stores merged), and
 * the widest such store in bytes. A word stored whole also stores each of its upper parts,
 * which readers load alone (a bit-field word after a 32-bit field, the struct assigned at once:
 * probe bitfield-immediate-second, `movabs rax,0x16b00000000; mov [rcx],rax`, read as `mov
 * eax,[rcx+4]`; a 16-bit word's high byte read as `movzx eax,byte [rcx+1]`).
 */
function immediateStores(img: MappedImage, f: FunctionInfo, word: WordOf | undefined, memo: StepMemo | undefined, fns: FunctionTable | undefined): Map<number, StoresAt> {
  const out = new Map<number, StoresAt>();
  const add = (disp: number, bytes: number, v: bigint, how: StoreSource, whole: Whole | undefined): void => {
    const e = out.get(disp) ?? { values: new Map<bigint, Set<StoreSource>>(), bytes: 0, wide: new Map<bigint, Whole>() };
    e.values.set(v, (e.values.get(v) ?? new Set<StoreSource>()).add(how));
    if (whole !== undefined && !e.wide.has(v)) e.wide.set(v, whole);
    out.set(disp, { values: e.values, bytes: Math.max(e.bytes, bytes), wide: e.wide });
  };
  for (const s of mergeRuns(storedConstants(img, f, word, memo, fns))) {
    const whole = (at: number): Whole | undefined => (s.bytes > 8 ? { value: s.value, bytes: s.bytes, at } : undefined);
    // Each offset's value is cut to UPPER_BYTES: a page-long copy (image-constants.ts
    // readOnlyCopy) would otherwise hold its whole tail at every byte.
    const part = (k: number): [number, bigint] => {
      const n = Math.min(s.bytes - k, UPPER_BYTES);
      return [n, (s.value >> BigInt(8 * k)) & ((1n << BigInt(8 * n)) - 1n)];
    };
    add(s.disp, ...part(0), s.how, whole(0));
    for (let k = 1; k < s.bytes; k++) add(s.disp + k, ...part(k), 'upper', whole(k));
  }
  return out;
}

/** The widest value kept at one displacement: every constant a body stored before copies longer than 64 bytes were followed, whole. */
const UPPER_BYTES = 64;

/** A constant wider than any bit-field word (a vector copied whole) a stored value is part of: its value, width in bytes, and the value's byte offset in it. */
interface Whole {
  readonly value: bigint;
  readonly bytes: number;
  readonly at: number;
}

/** The constants a body stores at one displacement, the widest store's bytes, and, per value that is part of a constant wider than 8 bytes, that constant. */
interface StoresAt {
  readonly values: Map<bigint, Set<StoreSource>>;
  readonly bytes: number;
  readonly wide: Map<bigint, Whole>;
}

/**
 * Whether the one replaced value and its replacement are the same part of two constants wider
 * than 8 bytes that differ in more than half their bytes (`rewritten`), and whether those two
 * hold as many set bits in each aligned qword (`bitsKept`). A literal copied whole mostly
 * holds other fields beside a bit-field word, which keep their bytes (probe bitfield-rodata: 2
 * of 16 bytes differ); two 16-byte constants unlike in nearly every byte may be other data:
 * swc-html 1.16.1's 0x7ab80 is Rust's `type_id` (`movups xmm0,[rip+X]; movups [rcx],xmm0`, a
 * 128-bit hash of the type, another in each build), whose bytes at +2 and +3 gave, by chance,
 * a UTF-8 decoder's 6-bit groups at +2 swapped values. Such a move needs more evidence from
 * its reader (movedGroups, explained): a literal of bit-field words all relaid (probe
 * bitfield-relayout-copy: every byte differs) is one too. A relayout that keeps every field's
 * value only moves bits inside each word, so each word, and each aligned qword of words, keeps
 * its count of set bits (probe bitfield-relayout-partial); a hash rewritten keeps it in one
 * qword in about ten, in both of a 16-byte constant's in about a hundred.
 */
function rewrittenWhole(o: StoresAt, n: StoresAt, onlyOld: readonly bigint[], onlyNew: readonly bigint[]): { rewritten: boolean; bitsKept: boolean } {
  const no = { rewritten: false, bitsKept: false };
  if (onlyOld.length !== 1 || onlyNew.length !== 1) return no;
  const a = o.wide.get(onlyOld[0]!);
  const b = n.wide.get(onlyNew[0]!);
  if (a === undefined || b === undefined || a.bytes !== b.bytes || a.at !== b.at) return no;
  let differ = 0;
  for (let k = 0; k < a.bytes; k++) if (((a.value ^ b.value) >> BigInt(8 * k)) & 0xffn) differ++;
  if (2 * differ <= a.bytes) return no;
  let bitsKept = true;
  for (let k = 0; k < a.bytes && bitsKept; k += 8) bitsKept = setBits(qwordAt(a.value, k)) === setBits(qwordAt(b.value, k));
  return { rewritten: true, bitsKept };
}

const qwordAt = (v: bigint, byte: number): bigint => (v >> BigInt(8 * byte)) & 0xffffffffffffffffn;
const setBits = (x: bigint): number => x.toString(2).replace(/0/g, '').length;

/** A word both bodies store as immediates, with some value replaced: the values only each body stores, and the bits they differ in. */
export interface ImmediateMove {
  readonly disp: number;
  readonly onlyOld: readonly bigint[];
  readonly onlyNew: readonly bigint[];
  readonly changed: bigint;
  /** The widest store of them, in bytes: readers of the bytes above `disp` read this word too. */
  readonly bytes: number;
  /** How each body stored its replaced values (`onlyOld`, `onlyNew`). */
  readonly how: { readonly old: ReadonlySet<StoreSource>; readonly new: ReadonlySet<StoreSource> };
  /** Part of a constant wider than 8 bytes that more than half of its bytes changed (rewrittenWhole): a move only when its reader explains it, or its bits moved inside each qword (`bitsKept`). */
  readonly rewritten: boolean;
  /** Rewritten, and each aligned qword of the wide constant holds as many set bits in both bodies (rewrittenWhole). */
  readonly bitsKept: boolean;
}

/** The words old body `of` and new body `nf` both store as immediates, where some old value is gone and some new one appears, by displacement; `fns` finds the functions the bodies call (a copy by one of the image's own). */
export function detectImmediateMoves(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, nf: FunctionInfo, words?: WordKeys, memo?: StepMemo, fns?: { readonly old: FunctionTable; readonly new: FunctionTable }): ImmediateMove[] {
  const o = immediateStores(oldImg, of, words?.old, memo, fns?.old);
  if (o.size === 0) return [];
  const n = immediateStores(newImg, nf, words?.new, memo, fns?.new);
  const out: ImmediateMove[] = [];
  for (const [disp, oe] of [...o].sort((a, b) => a[0] - b[0])) {
    const ne = n.get(disp);
    if (ne === undefined) continue;
    const [ov, nv, bytes] = [oe.values, ne.values, oe.bytes];
    const onlyOld = [...ov.keys()].filter((x) => !nv.has(x));
    const onlyNew = [...nv.keys()].filter((x) => !ov.has(x));
    if (onlyOld.length === 0 || onlyNew.length === 0) continue;
    // One value replaced: the bits it changed; several: every bit either side's replaced values set.
    const changed = onlyOld.length === 1 && onlyNew.length === 1 ? onlyOld[0]! ^ onlyNew[0]! : [...onlyOld, ...onlyNew].reduce((a, x) => a | x, 0n);
    const how = (vs: ReadonlyMap<bigint, ReadonlySet<StoreSource>>, xs: readonly bigint[]): Set<StoreSource> => new Set(xs.flatMap((x) => [...(vs.get(x) ?? [])]));
    if (changed !== 0n) out.push({ disp, onlyOld, onlyNew, changed, bytes: Math.max(bytes, ne.bytes), how: { old: how(ov, onlyOld), new: how(nv, onlyNew) }, ...rewrittenWhole(oe, ne, onlyOld, onlyNew) });
  }
  return out;
}

const WHOLE = new Set([8, 16, 32, 64].map((w) => (1n << BigInt(w)) - 1n));

/**
 * The bit groups a reader decodes in the word `mv` stores, in that word's frame: those at its
 * displacement, and those at each byte above it inside the store shifted up to their bits
 * (gcc -Os reads a 16-bit word stored whole both as the word at +0 and as the byte at +1,
 * probe bitfield-immediate-bytes). A whole byte, word, dword or qword from bit 0 is a value
 * read whole (an enum tag, a flag byte: swc-html 1.15.33's 0x2da650, 0x443c6c and 0x44432f, a
 * Rust tag stored as 0xa or 0xd, now 0x3, read as a dword where a qword was), no field.
 */
function framedGroups(s: ReadScan, mv: ImmediateMove): Set<bigint> | undefined {
  const at = s.fields.get(mv.disp);
  if (at === undefined) return undefined;
  const out = new Set([...at].filter((g) => !WHOLE.has(g)));
  const top = lowBits(8 * mv.bytes);
  for (let k = 1; k < mv.bytes; k++) {
    for (const g of s.fields.get(mv.disp + k) ?? []) {
      const up = g << BigInt(8 * k);
      if (!WHOLE.has(g) && (up & ~top) === 0n) out.add(up);
    }
  }
  return out;
}

/** The bit groups a reader decodes at `disp` only in its old body and only in its new body, when both exist and both touch `changed`; else null. */
export function movedGroups(o: ReadScan, n: ReadScan, mv: ImmediateMove): MovedGroups | null {
  const og = framedGroups(o, mv);
  const ng = framedGroups(n, mv);
  if (og === undefined || ng === undefined) return null;
  // A relayout the reader decodes in part (probe bitfield-relayout-partial: kinds only, the
  // level bits between them moved too) explains no changed bit outside its groups; then the
  // evidence is the bits kept per qword, or the reader's own groups moving with their values.
  const unexplained = mv.rewritten && !mv.bitsKept && !explained(mv.changed, [...og, ...ng]);
  const was = [...og].filter((g) => !ng.has(g));
  const now = [...ng].filter((g) => !og.has(g));
  const touches = (gs: readonly bigint[]): boolean => gs.some((g) => (g & mv.changed) !== 0n);
  // One value replaced by one only: allowing any pair of several refused swc-html 1.15.33's
  // 0x7b4a60 (Rust's binary formatting of a byte, bits 0 then 1-7; tags 0xa and 0xd, now 0x3).
  if (mv.onlyOld.length !== 1 || mv.onlyNew.length !== 1) return null;
  const values = (x: bigint, gs: readonly bigint[]): string => gs.map((g) => ((x & g) >> BigInt(lowestBit(g))).toString(16)).sort().join(',');
  // The same groups read along other paths: a hash rewritten whole gives their values swapped
  // by chance (swc-html 1.16.1's `type_id`, rewrittenWhole), so only a constant not rewritten.
  if (was.length === 0 && now.length === 0) return unexplained ? null : swappedValues(o, n, mv, [...ng]);
  if (!touches(was) || !touches(now)) return null;
  // A move keeps each field's value: the old immediate read through the groups only the old
  // reader decodes gives the values the new immediate gives through the new reader's (probe:
  // kind 3, level 11 in both). swc-html 1.15.33's Rust enum tags (0xd and 0xa, now 0xcf, read
  // through niche bits) give none of that. It holds for a constant rewritten whole too: the
  // reader itself decodes other bits, each of its fields' values kept, though a field it does
  // not decode changed its value, so a qword's count of set bits (probe
  // bitfield-relayout-revalue: word 12's level 9 -> 8 beside the relayout).
  if (values(mv.onlyOld[0]!, was) === values(mv.onlyNew[0]!, now)) return { was, now, swapped: false };
  // A move that also changes a value (probe bitfield-immediate-revalue: kind and level swapped,
  // level 11 -> 12) gives other values, yet the reader decodes the same fields at other places:
  // as many groups of each width on both sides, each a run of contiguous bits.
  if (unexplained) return null;
  if (permuted(was, now)) return { was, now, swapped: false };
  // One field alone moved and revalued (probe bitfield-single-revalue): its neighbour's bits.
  return tradedPlaces(mv.onlyOld[0]!, mv.onlyNew[0]!, was, now) ? { was, now, swapped: false } : null;
}

/**
 * A reader that decodes one field, which moved and changed its value (probe
 * bitfield-single-revalue: level bits 3-7 -> 0-4 and 11 -> 12; kind, which this reader does not
 * decode, bits 0-2 -> 5-7): one group only each body decodes, of one width, each a run of
 * contiguous bits, together a contiguous run; and the bits of that run outside the reader's
 * group, read in order, hold the same value in the old constant as in the new (kind 3 in
 * both): the field traded places with a neighbour, whose value moved along. A reader that
 * starts decoding another field of the same word (swc-html 1.15.33's 0x7b4c00 and 0x7b4de0:
 * a byte's low nibble, then its high one, tags 0xa and 0xd, now 0x3) keeps no such neighbour.
 * Not seen: a move in which the neighbour changed its value too.
 */
function tradedPlaces(old: bigint, neu: bigint, was: readonly bigint[], now: readonly bigint[]): boolean {
  if (was.length !== 1 || now.length !== 1) return false;
  const [a, b] = [was[0]!, now[0]!];
  const cover = a | b;
  if (width(a) !== width(b) || !contiguous(a) || !contiguous(b) || !contiguous(cover)) return false;
  return packedBits(old, cover & ~a) === packedBits(neu, cover & ~b);
}

/** The bits of `x` that `mask` selects, packed from bit 0 in their order (x86's pext). */
function packedBits(x: bigint, mask: bigint): bigint {
  let out = 0n;
  let k = 0n;
  for (let m = mask; m !== 0n; m &= m - 1n) {
    const bit = m & -m;
    if ((x & bit) !== 0n) out |= 1n << k;
    k++;
  }
  return out;
}

/**
 * True when every bit that `changed` sets in the bytes the reader's groups span lies in one of
 * those groups. A relayout moves bits between the fields the reader decodes (probe
 * bitfield-relayout-copy: bits 0-2 and 3-7 of each byte, now 0-4 and 5-7, cover the byte); a
 * hash rewritten whole changes the bits between them too (swc-html 1.16.1's `type_id` at +2:
 * the UTF-8 decoder's groups, bits 0-5 and 8-13, leave bits 6-7 and 14-15, which changed).
 */
function explained(changed: bigint, groups: readonly bigint[]): boolean {
  const cover = groups.reduce((a, g) => a | g, 0n);
  if (cover === 0n) return false;
  const low = Math.floor(lowestBit(cover) / 8);
  const high = Math.ceil(cover.toString(2).length / 8);
  const span = lowBits(8 * (high - low)) << BigInt(8 * low);
  return (changed & span & ~cover) === 0n;
}

/** What movedGroups found: the groups only each body decodes, or (`swapped`) the same groups whose values swapped. */
export interface MovedGroups {
  readonly was: readonly bigint[];
  readonly now: readonly bigint[];
  readonly swapped: boolean;
}

/**
 * Two fields of equal width swapped (probe bitfield-immediate-halves: mode bits 8-11 and on
 * 12-15 trade places): the reader decodes the same groups, along other mask, shift or weight
 * paths (which field gets which weight), and the values the immediates hold in those groups
 * are the same values in other groups (9 and 5 in both, at other bits). A fix that stores
 * another value gives other values; one that only changes a formula changes no immediate.
 */
function swappedValues(o: ReadScan, n: ReadScan, mv: ImmediateMove, groups: readonly bigint[]): MovedGroups | null {
  const over = groups.filter((g) => (g & mv.changed) !== 0n && contiguous(g));
  const value = (x: bigint, g: bigint): bigint => (x & g) >> BigInt(lowestBit(g));
  const differ = over.filter((g) => value(mv.onlyOld[0]!, g) !== value(mv.onlyNew[0]!, g));
  if (differ.length < 2 || differ.length !== over.length || !readsDiffer(o, n, mv.disp)) return null;
  const sorted = (x: bigint): string => differ.map((g) => value(x, g).toString(16)).sort().join(',');
  const widths = new Set(differ.map(width));
  return widths.size === 1 && sorted(mv.onlyOld[0]!) === sorted(mv.onlyNew[0]!) ? { was: differ, now: differ, swapped: true } : null;
}

const width = (g: bigint): number => g.toString(2).replace(/0/g, '').length;
/** A run of contiguous set bits. */
const contiguous = (g: bigint): boolean => {
  const x = g >> BigInt(lowestBit(g));
  return (x & (x + 1n)) === 0n;
};

/**
 * True when `now` holds the groups of `was` rearranged over the same bits: at least two groups,
 * the same widths, as many of each, every group contiguous, and together they cover the same
 * bits. One group alone moving is any reader change (swc-html 1.15.33's 0x7b4c00 and 0x7b4de0,
 * Rust's hex formatting of a byte, now decode bits 4-7 where they decoded 0-3: refused with
 * one group, not with the cover).
 */
function permuted(was: readonly bigint[], now: readonly bigint[]): boolean {
  const cover = (gs: readonly bigint[]): bigint => gs.reduce((a, g) => a | g, 0n);
  if (was.length < 2 || was.length !== now.length || cover(was) !== cover(now) || ![...was, ...now].every(contiguous)) return false;
  const widths = (gs: readonly bigint[]): string => gs.map(width).sort((a, b) => a - b).join(',');
  return widths(was) === widths(now);
}
