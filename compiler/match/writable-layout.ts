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
import { absTarget, type MappedSection } from '../image/map-image.ts';
import type { DataItem, ImageAnalysis } from './analyze-image.ts';
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

const cellCache = new WeakMap<ImageAnalysis, Set<number>>();

/**
 * True for a loader-only pointer cell: a writable item that is one base-relocated 64-bit
 * pointer at its start (then only zero padding), that no code references and no relocated
 * pointer points at. gcc's `DW.ref.<typeinfo>` cells are these: an LSDA type entry reaches
 * the typeinfo through one (pc-relative, indirect), and only the loader's relocation writes
 * it. Nothing in the running image can have changed it, so a copy carried in the package
 * (its pointer an abs64 fixup to the matched target) means the same: a new cell needs no
 * room in OLD's writable data, and an old one no counterpart in NEW.
 */
export function loaderOnlyCell(a: ImageAnalysis, d: DataItem): boolean {
  if (!d.writable || d.end - d.start < 8 || a.img.relocs.get(d.start) !== 10) return false;
  for (let k = d.start + 8; k < d.end; k++) if (a.img.image[k] !== 0 || a.img.relocs.has(k)) return false;
  let touched = cellCache.get(a);
  if (touched === undefined) {
    // Writable items something other than an EH type table reaches: code, or a pointer in data.
    touched = new Set<number>();
    for (const f of a.fns.functions) {
      for (const r of f.decoded.refs) {
        const x = r.isBranch ? undefined : a.itemAt(r.target);
        if (x?.writable === true) touched.add(x.index);
      }
    }
    for (const [rva, type] of a.img.relocs) {
      const x = a.itemAt(absTarget(a.img, rva, type));
      if (x?.writable === true) touched.add(x.index);
    }
    cellCache.set(a, touched);
  }
  return !touched.has(d.index);
}
