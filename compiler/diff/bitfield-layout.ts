/**
 * The bit-field half of the layout verdict. layout-shift.ts, added-field.ts and
 * element-stride.ts see fields that move, appear, or change the element size; none sees
 * bit-fields reordered inside one word: struct size, field offsets and access sizes all stay,
 * only the shift and mask constants of the code that packs and unpacks the word change.
 * Probe bitfield-reorder (test/probes/bitfield-reorder.c, test/probe-layout-live.test.ts):
 * words packed by old `pack` with kind in bits 0-2, decoded by the patched `unpack` with kind
 * in bits 5-7, printed neither version's values.
 *
 * The evidence is a bit-field store: a word of memory through a register base (not the stack
 * pointer, at a non-negative displacement) whose stored value derives from that same word's
 * old contents through an `and` (or `btr`) that clears the field's bits. It is found by a
 * backward slice from each store over the instructions that compute the stored register (in
 * address order, across branches, at most SLICE_STEPS, stopping at a call or a store to the
 * word), which must reach a load of the same base and displacement (or the store is an
 * in-place `and/or/xor/bts/btr/btc` on the word). The slice's constants are its mask values
 * (and/or/xor immediates, and a constant `mov`ed into the slice: clang loads the keep-mask
 * first) and its shift counts (shift, rotate and bit-test immediates; a `lea` index scale as
 * the shift it is). When both bodies store into the word at the same displacement this way
 * and the constants differ, the bits are laid out differently, or other bits are set: refused,
 * since the code cannot tell a reorder from a fix that writes another field. A fix that only
 * changes which bit a READ tests has no such store and passes (twin probe bitfield-flag-fix).
 *
 * A flag set by a lone in-place `or` (no `and` anywhere in its slice: `f->on = 1`) adds no
 * constants to the word's set (a CRT flag beside a real bit-field store, below), and two
 * one-bit flags swapped leave the set of bits unchanged; so the one-bit in-place stores
 * (`or`/`and`/`bts`/`btr` setting or clearing one bit) are also kept as a sequence per
 * word, and the same count in the same set/clear pattern with some other bit is a change
 * (probe bitfield-flag-swap). -O0 sets and clears a flag through a register (`movzx edx,
 * byte [rax]; or edx,1; mov [rax],dl`, clang with `and` then `or`): a store of the word's own
 * value changed only by one-bit `or`/`and` immediates on one bit is the same flag store
 * (registerFlag; bitfield-flag-swap and global-bitfield-flags at -O0). The readers of a changed word are refused by
 * bitfield-readers.ts, those that decode bits from `from` up: the lowest bit of the keep masks
 * (the `and` applied to the word's own old value, whose complement is the field it rewrites)
 * or one-bit flags only one body uses, or, when both use the same (a merged store of reordered
 * fields), the lowest bit either rewrites; 0 when a keep mask is not an immediate. A layout
 * change at bit L moves fields from L up only. `and [m],0` is a short zero store, no evidence. Words reached through RIP (a
 * global's bit-fields) are not keyed here (their address differs between builds):
 * bitfield-globals.ts keys them by matched global through the `WordOf` hook. Stores are
 * grouped by displacement alone (the base register may be renamed between builds), so in a
 * large body stores through several pointers at one displacement share one constant set.
 * Corpus (scripts/refused-ab.ts against main e0ce120: sharp A/B, watcher 2.5.0 -> 2.5.1,
 * crc32, lcss 1.29, 7za, bufferutil, libvips, rollup, vipscpp, lcss 1.30; with the flag
 * sequences and readers also watcher 2.5.4, utf-8-validate, ast-grep): no refusal. Looser
 * cuts refused arithmetic read-modify-writes (crc32 `[rdi+0x28]`, a length: no `and`), an MSVC
 * CRT flag set by load/or/store beside its in-place `and` (bufferutil `[rcx+0x3a8]`: a lone
 * `or`), and libvips' zero stores (`and qword [rsi],0`).
 */
import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import { fullRegister } from './added-field.ts';
import { lowBits, lowestBit, memoryBits, registerBits } from './bitfield-bits.ts';
import { movedFills, scanFills } from './bitfield-fills.ts';
import { BodyMemo } from './body-memo.ts';
import { decodeEach } from './register-effects.ts';
import { IMMEDIATE_KINDS, opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** A bit-field layout change between a matched old and new body. */
export interface BitfieldChange {
  /** Displacement of the word both bodies read, modify and write back. */
  readonly disp: number;
  /** Bit constants only the old body uses, and only the new body uses. */
  readonly onlyOld: readonly string[];
  readonly onlyNew: readonly string[];
  /** The lowest bit of the word whose field may have moved (bits below it keep their fields). */
  readonly from: number;
}

const MASK_OPS = new Set<number>([Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Test]);
const SHIFT_OPS = new Set<number>([Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc]);
const IN_PLACE = new Set<number>([Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc]);
/** With `Immediate64`: a `mov r64, imm64` is a bit constant too. */
const IMMEDIATES = new Set<number>([...IMMEDIATE_KINDS, OpKind.Immediate64]);

/** The bit constant `insn` (mnemonic `mn`, operand kinds `kinds`) uses (`mask 0x1f` for and/or/xor/test, `shift 5`), or null. */
function bitConstant(insn: Instruction, mn: Mnemonic, kinds: readonly OpKind[]): string | null {
  if (mn === Mnemonic.Lea) {
    const s = insn.memoryIndexScale;
    return s > 1 && insn.memoryBase !== insn.memoryIndex ? `shift ${Math.log2(s)}` : null;
  }
  if (kinds.length !== 2 || !IMMEDIATES.has(kinds[1]!)) return null;
  if (SHIFT_OPS.has(mn)) return `shift ${Number(insn.immediate(1)) & 63}`;
  if (!MASK_OPS.has(mn)) return null;
  // The mask as the operation's own width sees it (`and ax,0xfe00`, `and eax,0xfffffe00`).
  const width = kinds[0] === OpKind.Register ? registerBits(insn.op0Register) : 32;
  return `mask ${hex(Number(BigInt.asUintN(Math.min(width, 32), insn.immediate(1))))}`;
}

/** Where a memory operand points, as the scans key it: `key` tells words apart, `disp` groups stores and reads. */
export type WordOf = (insn: Instruction) => { key: string; disp: number } | null;

/**
 * Key of a memory operand through a register base: base, index and scale when indexed, and
 * displacement; null for the stack or RIP. An indexed operand is an element of an array of
 * bit-field structures (`table[i].b = x`: `lea rcx,[rip+table]`, then `[rcx+rax*4]`, a
 * global's or a heap array's), its displacement the field's offset in the element, so it
 * groups with the same field reached through a pointer (probe global-bitfield-table).
 */
export function wordOf(insn: Instruction): { key: string; disp: number } | null {
  const b = insn.memoryBase;
  if (b === Register.None || b === Register.RIP) return null;
  const base = fullRegister(b);
  if (base === Register.RSP) return null;
  const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
  const ix = insn.memoryIndex;
  if (ix === Register.None) return { key: `${base}:${disp}`, disp };
  return { key: `${base}:${fullRegister(ix)}*${insn.memoryIndexScale}:${disp}`, disp };
}

/**
 * In a slice's constants when an `and` (or `btr`) clears bits of the value: a bit-field store
 * keeps the word's other bits by masking out the field's. Arithmetic read-modify-writes
 * (a counter, a length) have none.
 */
const BIT_OPS = '#clears';

/** What one body shows: per displacement it stores into after reading it, the bit constants of the stored value. */
interface BitScan {
  readonly stores: Map<number, Set<string>>;
  /** Per displacement, the one-bit flags its in-place `or`/`and`/`bts`/`btr` stores set or clear, in address order. */
  readonly flags: Map<number, string[]>;
  /** Per displacement, the bits each bit-field store's keep masks clear (null: a store whose keep mask is not known). */
  readonly clears: Map<number, Set<bigint | null>>;
  /** Per displacement, the widest bit-field store into it, in bytes. */
  readonly bytes: Map<number, number>;
}

/** One instruction as the backward slice (and bitfield-readers.ts' forward walk) sees it. */
export interface Step {
  /** Full register written, or -1. */
  readonly writes: number;
  /** Full registers read to compute it. */
  readonly reads: readonly number[];
  readonly constant: string | null;
  /** An `and` or `btr`: it clears bits. */
  readonly bitOp: boolean;
  /** The word a memory source reads (`base:disp`), or null. */
  readonly load: string | null;
  /** That word's displacement (register base, no index), or null. */
  readonly loadDisp: number | null;
  /** The word stored into, its displacement, and the register stored (-1: an immediate or an in-place op). */
  readonly store: { readonly key: string; readonly disp: number; readonly src: number; readonly inPlace: boolean } | null;
  /** A call, return or indirect jump: the slice does not reach past it. */
  readonly barrier: boolean;
  /** An in-place store that sets or clears one bit of a word (`set 0`, `clear 1`), or null. */
  readonly flag: string | null;
  /** The same for an `or`/`and` of a register with an immediate (`none` for `or r,0`), or null. */
  readonly regFlag: string | null;
  /** The bits an `and` or `btr` with an immediate clears in its destination (`and al,0xf8`: 0x7), or null. */
  readonly clears: bigint | null;
  /** The immediate a `mov r,imm` puts in its register, or null. */
  readonly movImm: bigint | null;
  /** Width in bits of the destination operand (a register or the word stored into). */
  readonly opBits: number;
}

/** Instructions whose destination register is only written (its old value not read). */
const WRITE_ONLY = new Set<number>([Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Pop]);
/** Instructions a slice may walk back past a little (how far: SLICE_STEPS). */
const SLICE_STEPS = 40;

export function stepOf(insn: Instruction, word: WordOf = wordOf): Step {
  const mn = insn.mnemonic;
  // Each operand's kind, read from iced once (every read is a call into its wasm heap; the bit-field scans step through every instruction).
  const count = insn.opCount;
  const kinds: OpKind[] = [];
  for (let k = 0; k < count; k++) kinds.push(opKindOf(insn, k));
  const barrier = mn === Mnemonic.Call || mn === Mnemonic.Ret || (mn === Mnemonic.Jmp && (count > 0 ? kinds[0] : insn.op0Kind) !== OpKind.NearBranch64);
  const reads: number[] = [];
  let writes = -1;
  let load: string | null = null;
  let loadDisp: number | null = null;
  let store: Step['store'] = null;
  for (let k = 0; k < count; k++) {
    const kind = kinds[k]!;
    if (kind === OpKind.Register) {
      const r = fullRegister(opRegisterOf(insn, k));
      if (k === 0 && count >= 2) {
        writes = r;
        if (!WRITE_ONLY.has(mn)) reads.push(r);
      } else reads.push(r);
    } else if (kind === OpKind.Memory && mn !== Mnemonic.Lea) {
      const w = word(insn);
      if (k === 0 && count >= 2 && w !== null && (mn === Mnemonic.Mov || IN_PLACE.has(mn))) {
        const src = kinds[1] === OpKind.Register ? fullRegister(insn.op1Register) : -1;
        store = { key: w.key, disp: w.disp, src, inPlace: mn !== Mnemonic.Mov };
      } else if (w !== null) {
        load = w.key;
        loadDisp = w.disp;
      } else load = 'other';
    } else if (kind === OpKind.Memory) {
      if (insn.memoryBase !== Register.None) reads.push(fullRegister(insn.memoryBase));
      if (insn.memoryIndex !== Register.None) reads.push(fullRegister(insn.memoryIndex));
    }
  }
  // `xor r,r` zeroes and `sbb r,r` spreads the carry (0 or -1): neither reads the register's
  // value (watcher 2.5.1, MSVC's ioinfo flags: `sbb cl,cl` after the fd's `and ecx,0x3f`).
  if ((mn === Mnemonic.Xor || mn === Mnemonic.Sbb) && count === 2 && kinds[1] === OpKind.Register && fullRegister(insn.op1Register) === writes) reads.length = 0;
  // A mask loaded into a register first (clang: `mov eax,0xfffffe00`, then `and eax,[rcx]`)
  // counts as the mask it is.
  const bits = bitConstant(insn, mn, kinds);
  const movOfImm = mn === Mnemonic.Mov && writes >= 0 && count === 2 && IMMEDIATES.has(kinds[1]!);
  const constant = movOfImm ? `mask ${hex(Number(BigInt.asUintN(32, insn.immediate(1))))}` : bits;
  const flag = store?.inPlace === true && store.src < 0 ? flagOf(insn) : null;
  const orAnd = (mn === Mnemonic.Or || mn === Mnemonic.And) && count === 2 && kinds[0] === OpKind.Register && IMMEDIATES.has(kinds[1]!);
  const regFlag = !orAnd ? null : mn === Mnemonic.Or && insn.immediate(1) === 0n ? 'none' : flagOf(insn);
  const opBits = count === 0 ? 0 : kinds[0] === OpKind.Register ? registerBits(insn.op0Register) : kinds[0] === OpKind.Memory ? memoryBits(insn) : 0;
  const movImm = movOfImm ? BigInt.asUintN(opBits, insn.immediate(1)) : null;
  return { writes, reads, constant, bitOp: mn === Mnemonic.And || mn === Mnemonic.Btr, load, loadDisp, store, barrier, flag, regFlag, clears: clearsOf(insn, mn, kinds, opBits), movImm, opBits };
}

/** The bits `and x,imm` (the complement of the mask, in x's width) or `btr x,imm` clears, or null. */
function clearsOf(insn: Instruction, mn: Mnemonic, kinds: readonly OpKind[], bits: number): bigint | null {
  if (bits === 0 || kinds.length !== 2 || !IMMEDIATES.has(kinds[1]!)) return null;
  if (mn === Mnemonic.Btr) return 1n << BigInt((Number(insn.immediate(1)) & 63) % bits);
  if (mn !== Mnemonic.And) return null;
  return lowBits(bits) & ~BigInt.asUintN(bits, insn.immediate(1));
}

const IMMEDIATE_BITS = new Map<number, number>([
  [OpKind.Immediate8, 8],
  [OpKind.Immediate16, 16],
  [OpKind.Immediate8to16, 16],
  [OpKind.Immediate32, 32],
  [OpKind.Immediate8to32, 32],
  [OpKind.Immediate8to64, 64],
  [OpKind.Immediate32to64, 64],
]);

/** `set N` for `or [m],1<<N` or `bts [m],N`; `clear N` for `and [m],~(1<<N)` or `btr [m],N`; else null. */
function flagOf(insn: Instruction): string | null {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Bts || mn === Mnemonic.Btr) return `${mn === Mnemonic.Bts ? 'set' : 'clear'} ${Number(insn.immediate(1)) & 63}`;
  const width = IMMEDIATE_BITS.get(insn.op1Kind);
  if (width === undefined || (mn !== Mnemonic.Or && mn !== Mnemonic.And)) return null;
  const v = BigInt.asUintN(width, insn.immediate(1));
  const bits = mn === Mnemonic.Or ? v : BigInt.asUintN(width, ~v);
  if (bits === 0n || (bits & (bits - 1n)) !== 0n) return null;
  return `${mn === Mnemonic.Or ? 'set' : 'clear'} ${bits.toString(2).length - 1}`;
}

/**
 * The one bit a register store sets or clears in the word it loaded (-O0: `movzx edx,byte
 * [rax]; or edx,0x1; mov [rax],dl`; clang `mov ecx,[rax]; and ecx,0xfffffffe; or ecx,0x1;
 * mov [rax],ecx`): the value stored is the word's own, changed only by one-bit `or`/`and`
 * immediates on one bit, the last of which decides. Else null.
 */
function registerFlag(steps: readonly Step[], at: number): string | null {
  const st = steps[at]!.store!;
  if (st.inPlace || st.src < 0) return null;
  let last: string | null = null;
  for (let k = at - 1; k >= 0 && k >= at - 8; k--) {
    const s = steps[k]!;
    if (s.barrier || s.store !== null) return null;
    if (s.writes !== st.src) continue;
    if (s.load === st.key) return last !== null && last !== 'none' ? last : null;
    if (s.regFlag === null || s.reads.length !== 1) return null;
    if (s.regFlag === 'none') continue;
    if (last !== null && last.slice(last.indexOf(' ')) !== s.regFlag.slice(s.regFlag.indexOf(' '))) return null;
    last ??= s.regFlag;
  }
  return null;
}

/** A bit-field store's evidence: its slice's constants, and the word bits its keep masks clear (null: not known). */
interface Slice {
  readonly constants: Set<string>;
  readonly cleared: bigint | null;
}

/**
 * The constants of the value stored by `steps[at]`, walking back over the instructions that
 * compute it (in address order, at most SLICE_STEPS), and whether that value derives from the
 * same word's old contents (a read-modify-write: a bit-field store). Null when it does not.
 */
function sliceOf(steps: readonly Step[], at: number): Slice | null {
  const st = steps[at]!.store!;
  const constants = new Set<string>();
  const own = steps[at]!.constant;
  if (st.inPlace) {
    // `and [m],0` is how MSVC and clang store a zero in fewer bytes: no field is kept.
    if (own === 'mask 0x0') return null;
    if (own !== null) constants.add(own);
    if (steps[at]!.bitOp) constants.add(BIT_OPS);
    if (st.src < 0) return { constants, cleared: steps[at]!.clears };
  }
  if (st.src < 0) return null;
  const live = new Set<number>([st.src]);
  const slice: number[] = [];
  let rmw = st.inPlace;
  for (let k = at - 1; k >= 0 && k >= at - SLICE_STEPS && live.size > 0; k--) {
    const s = steps[k]!;
    if (s.barrier) break;
    if (s.store?.key === st.key) break;
    if (s.writes < 0 || !live.has(s.writes)) continue;
    live.delete(s.writes);
    slice.push(k);
    if (s.constant !== null) constants.add(s.constant);
    if (s.bitOp) constants.add(BIT_OPS);
    if (s.load === st.key) rmw = true;
    for (const r of s.reads) live.add(r);
  }
  return rmw ? { constants, cleared: keptClears(steps, slice.reverse(), at) } : null;
}

/**
 * The word bits a bit-field store's keep masks clear: the `and` (or `btr`) applied to the value
 * that came from the word itself (`and eax,0xffffff07` after the load; clang's `mov eax,
 * 0xfffffe00; and eax,[rcx]`; the in-place `and [m],imm`), not the masks applied to the new
 * field value before it is shifted in (`and edx,7`). Null when a keep mask is not an
 * immediate or no keep mask is seen (an `or` of a value masked elsewhere).
 */
function keptClears(steps: readonly Step[], slice: readonly number[], at: number): bigint | null {
  const key = steps[at]!.store!.key;
  const fromWord = new Set<number>();
  const consts = new Map<number, bigint>();
  let cleared = 0n;
  const keep = (s: Step, other: readonly number[]): boolean => {
    if (s.clears !== null) cleared |= s.clears;
    else {
      const c = other.map((r) => consts.get(r)).find((x) => x !== undefined);
      if (c === undefined) return false;
      cleared |= lowBits(s.opBits) & ~c;
    }
    return true;
  };
  for (const k of [...slice, at]) {
    const s = steps[k]!;
    const word = s.load === key || s.reads.some((r) => fromWord.has(r)) || (k === at && s.store!.inPlace);
    if (s.bitOp && word) {
      // The operand that is not the word: the mask (a register holding a `mov`ed constant).
      const other = s.load === key ? [s.writes] : s.reads.filter((r) => !fromWord.has(r));
      if (!keep(s, other)) return null;
    }
    if (s.writes >= 0) {
      if (word) fromWord.add(s.writes);
      else fromWord.delete(s.writes);
      if (s.movImm !== null) consts.set(s.writes, s.movImm);
      else consts.delete(s.writes);
    }
  }
  return cleared === 0n ? null : cleared;
}

/** Each body's steps per word keys, kept for one diff (body-memo.ts): the bit-field rules step through the same bodies. */
export type StepMemo = BodyMemo<readonly Step[]>;

/**
 * The steps of body `f` of `image` under word keys `word`, one per instruction in address
 * order (decodeEach's order), from `memo` when given (computed there once).
 */
export function bodySteps(image: Uint8Array, f: FunctionInfo, word: WordOf = wordOf, memo?: StepMemo): readonly Step[] {
  const compute = (): Step[] => {
    const steps: Step[] = [];
    decodeEach(image, f.decoded.insns, (insn) => {
      steps.push(stepOf(insn, word));
    });
    return steps;
  };
  return memo === undefined ? compute() : memo.of(word, image, f, compute);
}

function scanBody(image: Uint8Array, f: FunctionInfo, word: WordOf, memo: StepMemo | undefined): BitScan {
  const steps = bodySteps(image, f, word, memo);
  const out: BitScan = { stores: new Map(), flags: new Map(), clears: new Map(), bytes: new Map() };
  for (let k = 0; k < steps.length; k++) {
    const st = steps[k]!.store;
    // A negative displacement is a pointer the compiler rebased, not a field offset.
    if (st === null || st.disp < 0) continue;
    const flag = steps[k]!.flag ?? registerFlag(steps, k);
    if (flag !== null) out.flags.set(st.disp, [...(out.flags.get(st.disp) ?? []), flag]);
    const c = sliceOf(steps, k);
    // Only a slice that clears bits is a bit-field store: a lone `or` sets a flag, and its
    // constants would otherwise join those of the word's real bit-field stores.
    if (c === null || !c.constants.has(BIT_OPS)) continue;
    const set = out.stores.get(st.disp) ?? new Set<string>();
    for (const x of c.constants) set.add(x);
    out.stores.set(st.disp, set);
    const clears = out.clears.get(st.disp) ?? new Set<bigint | null>();
    clears.add(c.cleared);
    out.clears.set(st.disp, clears);
    out.bytes.set(st.disp, Math.max(out.bytes.get(st.disp) ?? 0, steps[k]!.opBits >> 3));
  }
  return out;
}

/**
 * One-bit flags that moved: the same word, the same number of in-place flag stores in the same
 * set/clear pattern, and some store sets or clears another bit than its old counterpart (two
 * flags swapped, `f->on = 1` as `or [m],1` then `or [m],2`). The sets of bits may be equal, so
 * the sequences are compared position by position.
 */
function movedFlags(o: BitScan, n: BitScan): Array<Omit<BitfieldChange, 'from'>> {
  const out: Array<Omit<BitfieldChange, 'from'>> = [];
  for (const disp of [...o.flags.keys()].sort((a, b) => a - b)) {
    const of = o.flags.get(disp)!;
    const nf = n.flags.get(disp);
    if (nf === undefined || nf.length !== of.length) continue;
    const kind = (x: string): string => x.slice(0, x.indexOf(' '));
    if (of.some((x, k) => kind(x) !== kind(nf[k]!))) continue;
    const moved = of.map((x, k) => [x, nf[k]!] as const).filter(([a, b]) => a !== b);
    if (moved.length > 0) out.push({ disp, onlyOld: moved.map(([a]) => `flag ${a}`), onlyNew: moved.map(([, b]) => `flag ${b}`) });
  }
  return out;
}

/** The bits a body's one-bit flag stores at `disp` set or clear. */
function flagBits(b: BitScan, disp: number): bigint {
  let bits = 0n;
  for (const x of b.flags.get(disp) ?? []) bits |= 1n << BigInt(Number(x.slice(x.indexOf(' ') + 1)));
  return bits;
}

/**
 * The lowest bit of the word at `disp` whose field may have moved: the lowest bit of the keep
 * masks (and one-bit flags) only one body uses; when both use the same ones (only the shifts or
 * value masks differ: a merged store of reordered fields), the lowest bit either body rewrites;
 * 0 when a keep mask is not known. A field inserted or widened at bit L moves the fields above
 * L, never those below, so readers that decode only bits below L read the same fields either
 * way.
 */
function movedFrom(o: BitScan, n: BitScan, disp: number): number {
  const oc = o.clears.get(disp) ?? new Set<bigint | null>();
  const nc = n.clears.get(disp) ?? new Set<bigint | null>();
  if (oc.has(null) || nc.has(null)) return 0;
  const of = flagBits(o, disp);
  const nf = flagBits(n, disp);
  let bits = of ^ nf;
  for (const x of oc) if (!nc.has(x)) bits |= x!;
  for (const x of nc) if (!oc.has(x)) bits |= x!;
  if (bits === 0n) {
    bits = of | nf;
    for (const x of [...oc, ...nc]) bits |= x!;
  }
  const low = lowestBit(bits);
  return low === 64 ? 0 : low;
}

/** Which words the scans of each side key (bitfield-globals.ts keys a global's words reached through RIP by their matched item). */
export interface WordKeys {
  readonly old: WordOf;
  readonly new: WordOf;
}
export const REGISTER_WORDS: WordKeys = { old: wordOf, new: wordOf };

/**
 * Every bit-field change between old body `of` and new body `nf` (bit-field stores first, then
 * moved flags), in displacement order. `words` keys the words of each side (default: register
 * base and displacement).
 */
export function detectBitfieldChanges(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, nf: FunctionInfo, words: WordKeys = REGISTER_WORDS, memo?: StepMemo): BitfieldChange[] {
  const o = scanBody(oldImg.image, of, words.old, memo);
  const n = scanBody(newImg.image, nf, words.new, memo);
  const out: Array<Omit<BitfieldChange, 'from'>> = [];
  const fills = movedFills(scanFills(oldImg.image, of, words.old), scanFills(newImg.image, nf, words.new));
  for (const disp of [...o.stores.keys()].sort((a, b) => a - b)) {
    const oc = o.stores.get(disp)!;
    const nc = n.stores.get(disp);
    if (nc === undefined) continue;
    const onlyOld = [...oc].filter((c) => !nc.has(c)).sort();
    const onlyNew = [...nc].filter((c) => !oc.has(c)).sort();
    if (onlyOld.length > 0 || onlyNew.length > 0) out.push({ disp, onlyOld, onlyNew });
  }
  const seen = new Set(out.map((c) => c.disp));
  out.push(...movedFlags(o, n).filter((c) => !seen.has(c.disp)));
  for (const c of out) seen.add(c.disp);
  const moved = movedWords(o, n).filter((c) => !seen.has(c.disp));
  for (const c of moved) seen.add(c.disp);
  // Fields filled by lone in-place immediates of several bits (bitfield-fills.ts): moved from the lowest bit either side's moved fills touch.
  const filled = fills.filter((c) => !seen.has(c.disp)).map(({ disp, onlyOld, onlyNew, bits }) => ({ disp, onlyOld, onlyNew, from: lowestBit(bits) }));
  return [...out.map((c) => ({ ...c, from: movedFrom(o, n, c.disp) })), ...moved, ...filled].sort((a, b) => a.disp - b.disp);
}

/**
 * Bit-field words whose store moved to another displacement: the old body stores a field into
 * the word at X and the new body no longer does, while it stores into an overlapping word at Y
 * that the old body never stores (gcc: an 11-bit field moved from bits 8-18 to 21-31 is
 * written by a dword read-modify-write at +0, then a word one at +2). Both words are changes,
 * from bit 0, so the readers at either displacement follow.
 */
function movedWords(o: BitScan, n: BitScan): BitfieldChange[] {
  const out: BitfieldChange[] = [];
  for (const [x, xb] of o.bytes) {
    if (n.bytes.has(x)) continue;
    for (const [y, yb] of n.bytes) {
      if (o.bytes.has(y) || y + yb <= x || x + xb <= y) continue;
      const change = { onlyOld: [`word +${hex(x)}`], onlyNew: [`word +${hex(y)}`], from: 0 };
      out.push({ disp: x, ...change }, { disp: y, ...change });
    }
  }
  return out;
}

/** The first bit-field change between old body `of` and new body `nf`, or null. */
export function detectBitfieldChange(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, nf: FunctionInfo, words: WordKeys = REGISTER_WORDS, memo?: StepMemo): BitfieldChange | null {
  return detectBitfieldChanges(oldImg, of, newImg, nf, words, memo)[0] ?? null;
}

/** The reason text of a bit-field change (the STRUCTURE_BITFIELD_CHANGED message's head). */
export function describeBitfieldChange(c: BitfieldChange): string {
  const list = (xs: readonly string[]): string => (xs.length === 0 ? 'none' : xs.slice(0, 6).join(', ') + (xs.length > 6 ? ', ...' : ''));
  return `bit-field layout changed at +${hex(c.disp)}: it reads, masks and writes back that word with other bit constants (old only: ${list(c.onlyOld)}; new only: ${list(c.onlyNew)}; needs a baseline)`;
}
