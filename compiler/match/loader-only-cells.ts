/**
 * Loader-only pointer cells in writable data (gcc's `DW.ref.*`): what they are and how the
 * diff, the emitter and the verifier treat them is in loaderOnlyCell's comment.
 */
import { absTarget } from '../image/map-image.ts';
import type { DataItem, ImageAnalysis } from './analyze-image.ts';

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
