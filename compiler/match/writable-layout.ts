/**
 * A writable global that NEW code references for the first time has no item in OLD (items
 * are where code points), so matching cannot pair it: a stripped mingw pair whose fix newly
 * reads an unchanged global was refused "with no counterpart in the old image", although
 * `.data` was byte-identical at the same RVA in both builds.
 *
 * Its counterpart is found by layout: the same section (name and size) in both images, and
 * its nearest matched neighbours in that section (or the section's ends) at the same section
 * offsets on both sides, so nothing between them moved; the old address at the same offset
 * must not lie inside any old item (a grown struct and a new neighbour look alike there). The diff separately
 * refuses a writable section whose contents changed, so layout plus identical contents stand
 * for the same global.
 */
import type { MappedSection } from '../image/map-image.ts';
import type { DataItem } from './analyze-image.ts';
import type { MatchResult } from './match-images.ts';

/**
 * True when OLD's code provably never touches OLD bytes [from, to) of section `sec`, which
 * lie inside OLD item `inside` (diff/untouched-old.ts: it needs the functions' statuses).
 */
export type UntouchedOld = (sec: MappedSection, from: number, to: number, inside: DataItem) => boolean;

/**
 * OLD's RVA for NEW address `t` inside unmatched writable item `item`, or null. `untouched`
 * (absent: never) may accept an OLD address inside an OLD item, for the rest of `item` from `t`.
 */
export function oldRvaByLayout(m: MatchResult, item: DataItem, t: number, untouched?: UntouchedOld): number | null {
  if (!item.writable || m.itemNewToOld[item.index]! >= 0) return null;
  const ns = m.new.img.sections.find((s) => s.name === item.section && item.start >= s.rva && item.start < s.rva + s.size);
  const os = ns === undefined ? undefined : m.old.img.sections.find((s) => s.name === ns.name && s.writable);
  if (ns === undefined || os === undefined || os.size !== ns.size) return null;
  const items = m.new.items;
  const sameOffset = (k: number): boolean => {
    const d = items[k]!;
    const o = m.itemNewToOld[k]!;
    return o >= 0 && m.old.items[o]!.start - os.rva === d.start - ns.rva;
  };
  const inSection = (k: number): boolean => {
    const d = items[k];
    return d !== undefined && d.writable && d.start >= ns.rva && d.start < ns.rva + ns.size;
  };
  let b = item.index - 1;
  while (inSection(b) && m.itemNewToOld[b]! < 0) b--;
  if (inSection(b) && !sameOffset(b)) return null;
  let a = item.index + 1;
  while (inSection(a) && m.itemNewToOld[a]! < 0) a++;
  if (inSection(a) && !sameOffset(a)) return null;
  const rva = os.rva + (t - ns.rva);
  // Never inside a matched old global. OLD's extent of a global runs to the next address its
  // code references, so a NEW global at an offset OLD's code never touched looks exactly like
  // a field that grew into the old global's alignment padding (samples/padded-struct,
  // stripped): the two cannot be told apart here, and pairing the latter would be a wrong
  // "safe". So such a reference keeps its refusal, unless the functions that access that old
  // item are unchanged and nothing in OLD reaches the bytes (diff/untouched-old.ts).
  const inside = m.old.itemAt(rva);
  if (inside !== undefined && (untouched === undefined || !untouched(os, rva, rva + (item.end - t), inside))) return null;
  return rva;
}
