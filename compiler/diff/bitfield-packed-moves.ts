/**
 * Fields of a word packed whole that moved, linked to their readers (issue #14, gcc -O1's
 * bitfield-reorder: `pack` stores the low byte whole, `mov [rcx],dl`, no read-modify-write, so
 * bitfield-layout.ts has no evidence and bitfield-packed.ts refuses a packing store only beside
 * a changed read-modify-write writer; patched live, new `unpack` decoded old pack's bytes and
 * the process printed neither version). A packing store alone is also how a hash or a double's
 * bits are computed, and its constants change with any fix, so "a packer and some reader of the
 * word changed" refused 12 functions of watcher 2.5.1 (MSVC's floating-point formatting). The
 * link here is the bits themselves: the packer's fields (per input, the word bits it lands in:
 * bitfield-packed.ts detectPackedMoves) differ between the bodies, AND a changed reader of that
 * displacement decodes, in its new body, exactly a field only the new packer writes (or a part
 * of one) where its old body decoded a field only the old packer wrote. Both are refused: the
 * packer and each such reader (v1 pack: kind in bits 0-2, level 3-7; v2: level 0-4, kind 5-7;
 * v1 unpack decodes 0-2 and 3-7, v2 unpack 5-7 and 0-4). A packer whose constants change but
 * whose fields stay (twin bitfield-reorder-fix: a field's value masked otherwise) moves no
 * field; a reader whose decoded bits stay (a formula changed) is no link.
 * Two equal fields swapped (probe bitfield-swap-whole: 4-bit a and b of a byte) leave both the
 * packer's field set and the reader's decoded bits equal; then the link is an input (an
 * argument register or a load) landing in another field the other body packs too (a
 * permutation), and a reader decoding those bits along other mask, shift or weight paths.
 * Without the permutation cut watcher 2.5.1's 0x3c8d8 (a double's bits, inputs renamed by
 * register allocation) refused itself and 4 readers.
 * clang writes the same swap as a read-modify-write (`and eax,[rcx]` keep mask, fields merged
 * by `or` and `add`/`lea`) whose constants are equal as a set in both bodies, so
 * bitfield-layout.ts (which compares sets) passed it and patched live the process misread the
 * old words. Such a store's fields are followed too (the word's own kept bits land no input),
 * and it links to readers only by a swap (`rmw`): its other field changes are
 * bitfield-layout.ts' evidence. Twin bitfield-swap-fix (pack changed elsewhere, each argument
 * in its old bits) stays hotpatchable with both compilers.
 */
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { detectPackedMoves, type PackedMove } from './bitfield-packed.ts';
import { type BitfieldScans, type ReadScan, readScanOf, readsDiffer } from './bitfield-readers.ts';
import { detectImmediateMoves, type ImmediateMove, movedGroups, type StoreSource } from './bitfield-immediates.ts';
import type { WordKeys } from './bitfield-layout.ts';
import { reason, type Reason, type ReasonCode } from './reasons.ts';
import type { FunctionStatus } from './types.ts';

/** `0x7` as `0-2`, `0x25` as `0, 2, 5`. */
export function bitRanges(x: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) {
    if (((x >> BigInt(i)) & 1n) === 0n) continue;
    let j = i;
    while (j + 1 < 64 && ((x >> BigInt(j + 1)) & 1n) === 1n) j++;
    out.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return out.join(', ');
}

const fieldList = (xs: readonly bigint[]): string => (xs.length === 0 ? 'none' : xs.map((x) => `bits ${bitRanges(x)}`).join('; '));

/** How a body stored a word's constant, in words, by bitfield-immediates.ts' evidence. */
const STORED_AS: ReadonlyArray<readonly [StoreSource, string]> = [
  ['immediate', 'as one immediate'],
  ['register', 'from a register loaded with one constant'],
  ['frame', 'from a constant built in a stack slot'],
  ['rodata', 'copied from a read-only constant'],
  ['parts', 'in adjacent parts'],
  ['upper', 'as the upper bytes of a wider constant'],
];
const storedAs = (how: ReadonlySet<StoreSource>): string => STORED_AS.filter(([k]) => how.has(k)).map(([, s]) => s).join(' and ');

/** A decoded field that lies inside one of `packed` (the whole field or a part of it). */
function within(read: ReadonlySet<bigint>, exclude: ReadonlySet<bigint> | undefined, packed: readonly bigint[]): bigint | undefined {
  return [...read].find((r) => exclude?.has(r) !== true && packed.some((p) => (r & ~p) === 0n));
}

/**
 * The link of a reader's old and new scans to a moved packer, as the reason's words: the field
 * it decodes now where it decoded another, or (two equal fields swapped: the same bits decoded
 * along other paths, another weight per field) the moved bits it decodes otherwise; null when none.
 */
function movedRead(o: ReadScan, n: ReadScan, mv: PackedMove): string | null {
  const nf = n.fields.get(mv.disp);
  const of = o.fields.get(mv.disp);
  if (nf === undefined || of === undefined) return null;
  const now = within(nf, of, mv.onlyNew);
  const was = within(of, nf, mv.onlyOld);
  if (now !== undefined && was !== undefined) return `bits ${bitRanges(now)} where its old body decoded bits ${bitRanges(was)}`;
  // A swap leaves the reader's bit groups as they were (only the weights moved between them),
  // and a group it decodes lies inside one swapped field: a reader decoding other groups, or
  // one group across fields (libvips 0.34.5's 0x30a09f and 0x398645 decode bits 33-63 of
  // packer 0x29c274's 64-bit bit buffer, whose swapped inputs land in bits 40-63), reads
  // something else at that displacement.
  // Only the groups over the swapped bits count (bitfield-rotate: clang decodes a flag beside
  // them along another weight's bits).
  const over = (rs: ReadonlySet<bigint>): bigint[] => [...rs].filter((r) => (r & mv.swapped) !== 0n);
  const sameGroups = over(nf).length === over(of).length && over(nf).every((r) => of.has(r));
  const inField = (r: bigint): boolean => mv.swappedFields.some((x) => (r & x) !== 0n && (r & ~x) === 0n);
  const hit = [...nf].reduce((a, r) => (inField(r) ? a | r : a), 0n);
  return hit !== 0n && sameGroups && readsDiffer(o, n, mv.disp) ? `bits ${bitRanges(hit)} along other mask, shift or weight paths than its old body` : null;
}

/** Which words packedMoveProblems follows: register-base words by default; bitfield-globals.ts passes a global's words (through RIP) with its own code and names. */
export interface PackedWords {
  readonly words?: WordKeys;
  readonly code: ReasonCode;
  /** The word at a displacement, as the reasons name it. */
  readonly name: (disp: number) => string;
  /** Told each packer refused, with its word's displacement. */
  readonly refusedPacker?: (f: FunctionInfo, disp: number) => void;
}

const REGISTER_PACKED: PackedWords = { code: 'STRUCTURE_BITFIELD_CHANGED', name: (disp) => `the word at +${hex(disp)}` };

/** A changed writer of a word (at `disp`) whose new layout some changed reader may decode. */
interface Writer {
  readonly f: FunctionInfo;
  readonly disp: number;
}

/** The reasons of a writer and a reader linked, or null: `link` words them for both. */
type Link<W> = (o: ReadScan, n: ReadScan, w: W, reader: string) => { writer: string; reader: string } | null;

/**
 * Each changed reader of some writer's word (its new body decodes that displacement) linked to
 * the first writer `link` accepts: both refused into `out` (the writer told `keys.refusedPacker`).
 */
function linkReaders<W extends Writer>(m: MatchResult, pairs: ReadonlyArray<{ of: FunctionInfo; f: FunctionInfo }>, writers: readonly W[], keys: PackedWords, link: Link<W>, out: Map<number, Reason>, scans: BitfieldScans | undefined): void {
  if (writers.length === 0) return;
  for (const { of, f } of pairs) {
    const n = readScanOf(m.new.img.image, f, keys.words?.new, scans);
    const candidates = writers.filter((w) => w.f.index !== f.index && n.fields.has(w.disp));
    if (candidates.length === 0) continue;
    const o = readScanOf(m.old.img.image, of, keys.words?.old, scans);
    for (const w of candidates) {
      const l = link(o, n, w, f.name ?? hex(f.entry));
      if (l === null) continue;
      if (!out.has(w.f.index)) {
        keys.refusedPacker?.(w.f, w.disp);
        out.set(w.f.index, reason(keys.code, l.writer, w.f.entry));
      }
      if (!out.has(f.index)) out.set(f.index, reason(keys.code, l.reader, f.entry));
      break;
    }
  }
}

/**
 * STRUCTURE_BITFIELD_CHANGED by NEW function index: changed functions that pack a word whole
 * with fields at other bits while some changed reader decodes, in the new body, a field only
 * the new packer writes where its old body decoded one only the old packer wrote; and those
 * readers. Then words stored as one immediate (bitfield-immediates.ts) with a value replaced,
 * linked to a changed reader whose decoded bit groups moved over the bits the values differ in
 * (probe bitfield-immediate-reorder).
 */
export function packedMoveProblems(m: MatchResult, status: readonly FunctionStatus[], keys: PackedWords = REGISTER_PACKED, scans?: BitfieldScans): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const pairs: Array<{ of: FunctionInfo; f: FunctionInfo }> = [];
  const packers: Array<Writer & { mv: PackedMove }> = [];
  const stores: Array<Writer & { mv: ImmediateMove }> = [];
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    pairs.push({ of, f });
    for (const mv of detectPackedMoves(m.old.img.image, of, m.new.img.image, f, keys.words, scans)) packers.push({ f, disp: mv.disp, mv });
    for (const mv of detectImmediateMoves(m.old.img, of, m.new.img, f, keys.words, scans?.steps, { old: m.old.fns, new: m.new.fns })) stores.push({ f, disp: mv.disp, mv });
  }
  linkReaders(m, pairs, packers, keys, (o, n, { f: pf, mv }, reader) => {
    const decodes = movedRead(o, n, mv);
    if (decodes === null) return null;
    const word = keys.name(mv.disp);
    const inputs = `inputs moved over bits ${bitRanges(mv.swapped)}`;
    const moved = mv.rmw ? `(${inputs})` : `(old only: ${fieldList(mv.onlyOld)}; new only: ${fieldList(mv.onlyNew)}${mv.swapped === 0n ? '' : `; ${inputs}`})`;
    const packs = mv.rmw ? `merges fields into ${word} (a read-modify-write)` : `packs ${word} whole (a store that does not read it)`;
    const packsNow = mv.rmw ? 'merges fields into that word' : 'packs that word whole';
    return {
      writer: `it ${packs} with its fields at other bits than its old body ${moved}, and ${reader} now decodes ${decodes}: words packed before the patch keep the old bit order`,
      reader: `it decodes ${word} at ${decodes}, and ${pf.name ?? hex(pf.entry)} now ${packsNow} with its fields at other bits ${moved}: words packed before the patch keep the old bit order`,
    };
  }, out, scans);
  const hex64 = (xs: readonly bigint[]): string => xs.map((x) => `0x${x.toString(16)}`).join(', ');
  linkReaders(m, pairs, stores, keys, (o, n, { f: wf, mv }, reader) => {
    const g = movedGroups(o, n, mv);
    if (g === null) return null;
    const word = keys.name(mv.disp);
    const values = `(old ${hex64(mv.onlyOld)}; new ${hex64(mv.onlyNew)})`;
    const was = storedAs(mv.how.old);
    const how = storedAs(mv.how.new) + (was === storedAs(mv.how.new) ? '' : ` (its old body ${was})`);
    const decodes = g.swapped ? `${fieldList(g.now)} along other mask, shift or weight paths than its old body, the stored values swapped between them` : `${fieldList(g.now)} where its old body decoded ${fieldList(g.was)}`;
    return {
      writer: `it stores ${word} ${how} with other bits than its old body ${values}, and ${reader} now decodes ${decodes}: words stored before the patch keep the old bit order`,
      reader: `it decodes ${word} at ${decodes}, and ${wf.name ?? hex(wf.entry)} now stores that word ${how} with other bits ${values}: words stored before the patch keep the old bit order`,
    };
  }, out, scans);
  return out;
}
