/**
 * Bit-fields of a writable GLOBAL reordered (GLOBAL_BITFIELD_CHANGED). bitfield-layout.ts
 * keys the words it compares by register base and displacement, so a global's bit-fields,
 * reached through RIP (`mov eax,[rip+g]; and eax,~7; or; mov [rip+g],eax`), were never
 * compared, and access-layout.ts sees the same offsets and access sizes on both sides.
 * Probe global-bitfield-reorder (test/probes/global-bitfield-reorder.c, test/probe-globals-live.test.ts): the
 * word old `pack` wrote, decoded by the patched `unpack` with the fields swapped, printed
 * neither version's line (gcc and clang, both called it hotpatchable before this rule).
 *
 * Here a RIP operand is keyed by the global it lands in, matched old -> new (the NEW item's
 * index, so both bodies name one word the same), and its offset in that item; then
 * bitfield-layout.ts' own evidence applies unchanged: a read-modify-write store that clears
 * bits with other mask/shift constants, or one-bit in-place flags moved. The running image
 * holds the word packed by old code, so a changed WRITER is refused, and so is every changed
 * function that reads any byte of that word (a reader decoding it with new constants reads
 * old-packed bits; its decode cannot be told from a fix, so any changed reader is refused:
 * the writer's refusal already makes the pair need a baseline). A fix that changes only a
 * read mask leaves every writer's constants alone and passes (twin global-bitfield-fix).
 * Unmatched globals and items larger than 16 MiB are not keyed.
 * A global's word packed whole (gcc -O1's global-bitfield-reorder: `shl edx,3; and ecx,7; or
 * ecx,edx; mov [rip+g_word],cl`, no read of the word, so no read-modify-write evidence) is
 * followed by bitfield-packed-moves.ts with these keys: its fields moved and a changed reader
 * decodes a moved field, so the packer, that reader and every changed reader of the word are
 * refused. Patched live (rule lifted), gcc -O1's process printed neither version's line.
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { detectBitfieldChange, type WordKeys, type WordOf } from './bitfield-layout.ts';
import { packedMoveProblems } from './bitfield-packed-moves.ts';
import { type BitfieldScans, newBitfieldScans } from './bitfield-readers.ts';
import { reason, type Reason } from './reasons.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';
import { opKindOf } from '../disasm/operands.ts';

/** Synthetic displacements of global words: above any field offset, one 16 MiB window per item. */
const GLOBAL_BASE = 2 ** 40;
const ITEM_SPAN = 2 ** 24;
/** Widest bit-field word (a qword). */
const WORD_BYTES = 8;

/** The writable item and offset a RIP operand of `insn` lands in, as NEW item index; null otherwise. */
function globalWord(a: ImageAnalysis, toNew: (i: number) => number, insn: Instruction): { item: number; offset: number } | null {
  if (insn.memoryBase !== Register.RIP) return null;
  const target = Number(insn.memoryDisplacement);
  const d = a.itemAt(target);
  if (d === undefined || !d.writable || d.jumpTable) return null;
  const item = toNew(d.index);
  const offset = target - d.start;
  if (item < 0 || offset >= ITEM_SPAN) return null;
  return { item, offset };
}

/** A WordOf that keys only global words (pointer words are bitfield-layout.ts' own rule). */
export function globalWords(a: ImageAnalysis, toNew: (i: number) => number): WordOf {
  return (insn) => {
    const w = globalWord(a, toNew, insn);
    return w === null ? null : { key: `g${w.item}:${w.offset}`, disp: GLOBAL_BASE + w.item * ITEM_SPAN + w.offset };
  };
}

/** One diff's bit-field scans, with its global words' keys: one WordOf per side for every rule, so the scans under them are kept too. */
export interface DiffBitfieldScans extends BitfieldScans {
  readonly globals: WordKeys;
}

/** New data items keyed by their own index when they have an old counterpart (-1 when not): the new side's `toNew`. */
function matchedNewItem(m: MatchResult): (i: number) => number {
  return (i) => ((m.itemNewToOld[i] ?? -1) >= 0 ? i : -1);
}

/** Empty bit-field scans for the diff `m`. */
export function newDiffBitfieldScans(m: MatchResult): DiffBitfieldScans {
  const oldToNew = (i: number): number => m.itemOldToNew[i] ?? -1;
  return { ...newBitfieldScans(), globals: { old: globalWords(m.old, oldToNew), new: globalWords(m.new, matchedNewItem(m)) } };
}

/** True when `f` loads any byte of the word at `offset` of new item `item` (not a `lea`, not a plain store). */
export function readsWord(a: ImageAnalysis, toNew: (i: number) => number, image: Uint8Array, f: FunctionInfo, item: number, offset: number): boolean {
  let hit = false;
  decodeEach(image, f.decoded.insns, (insn) => {
    if (hit || insn.mnemonic === Mnemonic.Lea) return;
    for (let k = 0; k < insn.opCount; k++) {
      if (opKindOf(insn, k) !== OpKind.Memory) continue;
      // `mov [g],reg` only writes; every other access to the word reads it.
      if (k === 0 && insn.mnemonic === Mnemonic.Mov) continue;
      const w = globalWord(a, toNew, insn);
      const size = Math.max(1, MemorySizeExt.size(insn.memorySize));
      if (w !== null && w.item === item && w.offset < offset + WORD_BYTES && offset < w.offset + size) hit = true;
    }
  });
  return hit;
}

/**
 * GLOBAL_BITFIELD_CHANGED by NEW function index: changed matched functions that pack a
 * global's bit-field word in another layout than their old body, and changed functions that
 * read such a word.
 */
export function globalBitfieldProblems(m: MatchResult, status: readonly FunctionStatus[], scans: DiffBitfieldScans = newDiffBitfieldScans(m)): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const same = matchedNewItem(m);
  const words = scans.globals;
  const changed: Array<{ of: FunctionInfo; f: FunctionInfo }> = [];
  const writers: Array<{ f: FunctionInfo; item: number; offset: number }> = [];
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    changed.push({ of, f });
    const c = detectBitfieldChange(m.old.img, of, m.new.img, f, words, scans.steps);
    if (c === null) continue;
    const { item, offset } = globalItemOf(c.disp);
    writers.push({ f, item, offset });
    const list = (xs: readonly string[]): string => (xs.length === 0 ? 'none' : xs.slice(0, 6).join(', ') + (xs.length > 6 ? ', ...' : ''));
    out.set(f.index, reason('GLOBAL_BITFIELD_CHANGED', `bit-field layout of writable global ${itemLabel(m, item)} changed at +${hex(offset)}: ${f.name ?? hex(f.entry)} reads, masks and writes back that word with other bit constants than its old body ${of.name ?? hex(of.entry)} (old only: ${list(c.onlyOld)}; new only: ${list(c.onlyNew)}); the running image holds the word packed in the old bit order (needs a baseline)`, f.entry));
  }
  // Words packed whole (gcc -O1: `mov [rip+g],cl`, no read of the word) or merged, whose
  // fields moved and some changed reader decodes a moved field: bitfield-packed-moves.ts' link.
  const refusedPacker = (f: FunctionInfo, disp: number): void => {
    if (!out.has(f.index)) writers.push({ f, ...globalItemOf(disp) });
  };
  const name = (disp: number): string => {
    const { item, offset } = globalItemOf(disp);
    return `the word at +${hex(offset)} of writable global ${itemLabel(m, item)}`;
  };
  for (const [index, r] of packedMoveProblems(m, status, { words, code: 'GLOBAL_BITFIELD_CHANGED', name, refusedPacker }, scans)) if (!out.has(index)) out.set(index, r);
  for (const w of writers) {
    for (const { f } of changed) {
      if (out.has(f.index) || !readsWord(m.new, same, m.new.img.image, f, w.item, w.offset)) continue;
      out.set(f.index, reason('GLOBAL_BITFIELD_CHANGED', `it reads the word at +${hex(w.offset)} of writable global ${itemLabel(m, w.item)}, and ${w.f.name ?? hex(w.f.entry)} now packs that word in another bit layout (refused): the running image holds it packed in the old bit order`, f.entry));
    }
  }
  return out;
}

/** A global word's new item and offset, from its synthetic displacement (globalWords). */
export function globalItemOf(disp: number): { item: number; offset: number } {
  const item = Math.floor((disp - GLOBAL_BASE) / ITEM_SPAN);
  return { item, offset: disp - GLOBAL_BASE - item * ITEM_SPAN };
}

export function itemLabel(m: MatchResult, item: number): string {
  const d = m.new.items[item]!;
  return d.name ?? `${d.section}+${hex(d.start)}`;
}
