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
 * qword also stores the dword at +4 (probe bitfield-immediate-second). Not
 * seen: a word stored with several immediates (two byte halves, or built in steps), and
 * clang -O0's compound literal built on the stack and copied. Twins bitfield-immediate-fix (a
 * flag set in a new bit, unpack decoding the same groups with another formula),
 * bitfield-immediate-revalue-fix and bitfield-immediate-wide-fix (another value stored, the
 * layout kept) stay hotpatchable.
 */
import { Mnemonic, OpKind } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { lowestBit, memoryBits } from './bitfield-bits.ts';
import { stepOf, type WordKeys, type WordOf } from './bitfield-layout.ts';
import type { ReadScan } from './bitfield-readers.ts';
import { decodeEach } from './register-effects.ts';

const IMMEDIATES = new Set<number>([OpKind.Immediate8, OpKind.Immediate16, OpKind.Immediate32, OpKind.Immediate8to32, OpKind.Immediate32to64]);

/**
 * Per displacement (words keyed by `word`: register base by default), the immediates a body's
 * `mov [m],imm` stores, as the store's width sees them; and the constants it stores from a
 * register that a `mov r64,imm64` loaded (a 64-bit word: `movabs rax,imm64; mov [rcx],rax`, no
 * store takes a 64-bit immediate; probe bitfield-immediate-wide), in address order.
 */
function immediateStores(image: Uint8Array, f: FunctionInfo, word?: WordOf): Map<number, Set<bigint>> {
  const out = new Map<number, Set<bigint>>();
  const held = new Map<number, bigint>();
  decodeEach(image, f.decoded.insns, (insn) => {
    const step = stepOf(insn, word);
    const st = step.store;
    const bits = memoryBits(insn);
    const stored = insn.mnemonic !== Mnemonic.Mov || insn.opCount !== 2 ? undefined : IMMEDIATES.has(insn.opKind(1)) ? insn.immediate(1) : insn.opKind(1) === OpKind.Register ? held.get(st?.src ?? -1) : undefined;
    if (step.writes >= 0) {
      // Only an imm64 (`movabs`): a narrower constant stored from a register is a value the
      // body reuses (swc-html 1.15.33's 0x7a244e, `mov eax,1`/`2` stored as a byte, read by
      // Rust's binary formatting of a byte), and a store can take it as an immediate.
      if (step.movImm !== null && insn.opKind(1) === OpKind.Immediate64) held.set(step.writes, step.movImm);
      else held.delete(step.writes);
    }
    if (step.barrier) held.clear();
    if (stored === undefined || st === null || st.disp < 0 || bits === 0) return;
    const add = (disp: number, v: bigint): void => void out.set(disp, (out.get(disp) ?? new Set<bigint>()).add(v));
    add(st.disp, BigInt.asUintN(bits, stored));
    // A qword stored whole also stores the dword at +4, which readers load alone (a bit-field
    // word after a 32-bit field, the struct assigned at once: probe bitfield-immediate-second,
    // `movabs rax,0x16b00000000; mov [rcx],rax`, read as `mov eax,[rcx+4]`).
    if (bits === 64) add(st.disp + 4, BigInt.asUintN(32, BigInt.asUintN(64, stored) >> 32n));
  });
  return out;
}

/** A word both bodies store as immediates, with some value replaced: the values only each body stores, and the bits they differ in. */
export interface ImmediateMove {
  readonly disp: number;
  readonly onlyOld: readonly bigint[];
  readonly onlyNew: readonly bigint[];
  readonly changed: bigint;
}

/** The words old body `of` and new body `nf` both store as immediates, where some old value is gone and some new one appears, by displacement. */
export function detectImmediateMoves(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo, words?: WordKeys): ImmediateMove[] {
  const o = immediateStores(oldImage, of, words?.old);
  if (o.size === 0) return [];
  const n = immediateStores(newImage, nf, words?.new);
  const out: ImmediateMove[] = [];
  for (const [disp, ov] of [...o].sort((a, b) => a[0] - b[0])) {
    const nv = n.get(disp);
    if (nv === undefined) continue;
    const onlyOld = [...ov].filter((x) => !nv.has(x));
    const onlyNew = [...nv].filter((x) => !ov.has(x));
    if (onlyOld.length === 0 || onlyNew.length === 0) continue;
    // One value replaced: the bits it changed; several: every bit either side's replaced values set.
    const changed = onlyOld.length === 1 && onlyNew.length === 1 ? onlyOld[0]! ^ onlyNew[0]! : [...onlyOld, ...onlyNew].reduce((a, x) => a | x, 0n);
    if (changed !== 0n) out.push({ disp, onlyOld, onlyNew, changed });
  }
  return out;
}

const WHOLE = new Set([8, 16, 32, 64].map((w) => (1n << BigInt(w)) - 1n));

/** The bit groups a reader decodes at `disp` only in its old body and only in its new body, when both exist and both touch `changed`; else null. */
export function movedGroups(o: ReadScan, n: ReadScan, mv: ImmediateMove): { was: bigint[]; now: bigint[] } | null {
  const og = o.fields.get(mv.disp);
  const ng = n.fields.get(mv.disp);
  if (og === undefined || ng === undefined) return null;
  // A whole byte, word, dword or qword from bit 0 is a value read whole (an enum tag, a flag
  // byte: swc-html 1.15.33's 0x2da650, 0x443c6c and 0x44432f, a Rust tag stored as 0xa or 0xd,
  // now 0x3, read as a dword where a qword was), no field of a word.
  const field = (g: bigint): boolean => !WHOLE.has(g);
  const was = [...og].filter((g) => !ng.has(g) && field(g));
  const now = [...ng].filter((g) => !og.has(g) && field(g));
  const touches = (gs: readonly bigint[]): boolean => gs.some((g) => (g & mv.changed) !== 0n);
  // One value replaced by one only: allowing any pair of several refused swc-html 1.15.33's
  // 0x7b4a60 (Rust's binary formatting of a byte, bits 0 then 1-7; tags 0xa and 0xd, now 0x3).
  if (!touches(was) || !touches(now) || mv.onlyOld.length !== 1 || mv.onlyNew.length !== 1) return null;
  // A move keeps each field's value: the old immediate read through the groups only the old
  // reader decodes gives the values the new immediate gives through the new reader's (probe:
  // kind 3, level 11 in both). swc-html 1.15.33's Rust enum tags (0xd and 0xa, now 0xcf, read
  // through niche bits) give none of that.
  const values = (x: bigint, gs: readonly bigint[]): string => gs.map((g) => ((x & g) >> BigInt(lowestBit(g))).toString(16)).sort().join(',');
  if (values(mv.onlyOld[0]!, was) === values(mv.onlyNew[0]!, now)) return { was, now };
  // A move that also changes a value (probe bitfield-immediate-revalue: kind and level swapped,
  // level 11 -> 12) gives other values, yet the reader decodes the same fields at other places:
  // as many groups of each width on both sides, each a run of contiguous bits.
  return permuted(was, now) ? { was, now } : null;
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
