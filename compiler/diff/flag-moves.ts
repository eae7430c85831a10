/**
 * One-bit flags moved while the number of flags changed (STRUCTURE_BITFIELD_CHANGED).
 * bitfield-layout.ts compares a word's in-place one-bit stores (`or [m],1`, `and [m],~2`,
 * `bts`, `btr`) position by position, and only when both bodies make the same number of them:
 * two flags swapped AND a third one added (probe flag-move-count: v1 on bit 0, hot bit 1; v2
 * hot bit 0, on bit 1, cold bit 2) gave sequences of 4 and 5 stores, and gcc and clang builds
 * were called hotpatchable. Here, when the counts differ, the stores of bits only one body
 * touches (the flag added or removed) are set aside; when what remains has one length and one
 * set/clear pattern and some store now sets or clears another bit, the flags moved. A flag
 * added with no other move leaves both remainders equal and passes (twin flag-add-fix).
 * The changed writer is refused, and every changed function that reads a word at that
 * displacement (bitfield-readers.ts follows only bitfield-layout.ts' own writers), so
 * --skip-refused leaves the readers out with it. Words are keyed by displacement, as
 * bitfield-layout.ts keys them.
 */
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { type DiffBitfieldScans, globalItemOf, itemLabel, newDiffBitfieldScans, readsWord } from './bitfield-globals.ts';
import { bodySteps, type StepMemo, type WordOf } from './bitfield-layout.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';

/** Per displacement, the one-bit flags the in-place stores set or clear (`set 0`, `clear 1`), in address order (words keyed by `word`: register base by default). */
function flagSequences(image: Uint8Array, f: FunctionInfo, word: WordOf | undefined, memo: StepMemo): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const s of bodySteps(image, f, word, memo)) {
    if (s.store === null || s.store.disp < 0 || s.flag === null) continue;
    out.set(s.store.disp, [...(out.get(s.store.disp) ?? []), s.flag]);
  }
  return out;
}

const bitOf = (x: string): string => x.slice(x.indexOf(' ') + 1);
const kindOf = (x: string): string => x.slice(0, x.indexOf(' '));

/** A flag move across a change in the number of flags: the word's displacement and the moved stores, or null. */
export function movedFlagsAcrossCounts(o: ReadonlyMap<number, readonly string[]>, n: ReadonlyMap<number, readonly string[]>): { disp: number; onlyOld: string[]; onlyNew: string[] } | null {
  for (const disp of [...o.keys()].sort((a, b) => a - b)) {
    const of = o.get(disp)!;
    const nf = n.get(disp);
    // Equal counts are bitfield-layout.ts' own comparison.
    if (nf === undefined || nf.length === of.length) continue;
    const [ob, nb] = [new Set(of.map(bitOf)), new Set(nf.map(bitOf))];
    const a = of.filter((x) => nb.has(bitOf(x)));
    const b = nf.filter((x) => ob.has(bitOf(x)));
    if (a.length === 0 || a.length !== b.length || a.some((x, k) => kindOf(x) !== kindOf(b[k]!))) continue;
    const moved = a.map((x, k) => [x, b[k]!] as const).filter(([x, y]) => x !== y);
    if (moved.length > 0) return { disp, onlyOld: moved.map(([x]) => `flag ${x}`), onlyNew: moved.map(([, y]) => `flag ${y}`) };
  }
  return null;
}

/** True when `f` reads a word at displacement `disp` through a register base (a load, or `test/bt` in place). */
function readsDisp(image: Uint8Array, f: FunctionInfo, disp: number, memo: StepMemo): boolean {
  return bodySteps(image, f, undefined, memo).some((s) => s.store === null && s.loadDisp === disp);
}

/** A writer whose flags moved: the new function, and the word (a register-base displacement, or a global's synthetic one). */
interface FlagWriter {
  readonly f: FunctionInfo;
  readonly disp: number;
  readonly global: boolean;
}

/**
 * STRUCTURE_BITFIELD_CHANGED (GLOBAL_BITFIELD_CHANGED for a writable global's word, reached
 * through RIP and keyed by its matched item as bitfield-globals.ts keys it: probe
 * global-flag-move-count) by NEW function index: writers whose one-bit flags moved while their
 * number changed, and the changed readers of those words.
 */
export function flagMoveProblems(m: MatchResult, status: readonly FunctionStatus[], scans: DiffBitfieldScans = newDiffBitfieldScans(m)): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const changed: Array<{ of: FunctionInfo; f: FunctionInfo }> = [];
  const writers: FlagWriter[] = [];
  const same = (i: number): number => ((m.itemNewToOld[i] ?? -1) >= 0 ? i : -1);
  const globals = scans.globals;
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    changed.push({ of, f });
    for (const global of [false, true]) {
      const os = flagSequences(m.old.img.image, of, global ? globals.old : undefined, scans.steps);
      if (os.size === 0) continue;
      const c = movedFlagsAcrossCounts(os, flagSequences(m.new.img.image, f, global ? globals.new : undefined, scans.steps));
      if (c === null) continue;
      writers.push({ f, disp: c.disp, global });
      const moved = `${f.name ?? hex(f.entry)} sets and clears, in place, other bits than its old body ${of.name ?? hex(of.entry)} where both touch the same flags (old: ${c.onlyOld.join(', ')}; new: ${c.onlyNew.join(', ')}); words packed before the patch keep the old bit order (needs a baseline)`;
      if (!global) out.set(f.index, reason('STRUCTURE_BITFIELD_CHANGED', `one-bit flags moved at +${hex(c.disp)} while their number changed: ${moved}`, f.entry));
      else {
        const { item, offset } = globalItemOf(c.disp);
        out.set(f.index, reason('GLOBAL_BITFIELD_CHANGED', `one-bit flags of writable global ${itemLabel(m, item)} moved at +${hex(offset)} while their number changed: ${moved}`, f.entry));
      }
      break;
    }
  }
  for (const w of writers) {
    for (const { f } of changed) {
      if (out.has(f.index)) continue;
      if (!w.global) {
        if (!readsDisp(m.new.img.image, f, w.disp, scans.steps)) continue;
        out.set(f.index, reason('STRUCTURE_BITFIELD_CHANGED', `it reads the word at +${hex(w.disp)}, and ${w.f.name ?? hex(w.f.entry)} now sets and clears its one-bit flags at other bits (refused): words packed before the patch keep the old bit order`, f.entry));
        continue;
      }
      const { item, offset } = globalItemOf(w.disp);
      if (!readsWord(m.new, same, m.new.img.image, f, item, offset)) continue;
      out.set(f.index, reason('GLOBAL_BITFIELD_CHANGED', `it reads the word at +${hex(offset)} of writable global ${itemLabel(m, item)}, and ${w.f.name ?? hex(w.f.entry)} now sets and clears its one-bit flags at other bits (refused): the running image holds it packed in the old bit order`, f.entry));
    }
  }
  return out;
}
