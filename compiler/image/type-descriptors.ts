/**
 * MSVC RTTI TypeDescriptors in writable data: `{ void* pVFTable; void* spare; char name[] }`,
 * the vftable pointer base-relocated, `spare` zero in the file (type_info::name() caches the
 * undecorated name there at run time) and `name` the decorated type name
 * (`.?AVregex_error@std@@`), 8-aligned.
 *
 * Its identity is that name: the C++ runtime compares types by it (the exception runtime's
 * catch matching and `type_info::operator==` compare the names when the addresses differ),
 * and the linker keeps one descriptor per type and module (COMDAT `??_R0...`). What
 * references one (catch clauses in handler data, CatchableTypes, RTTI locators, `typeid`)
 * only compares it or reads its name. Two uses here: each descriptor is a data item of its
 * own (a descriptor only RTTI locators name, by image-relative RVA, is otherwise no item
 * start and runs into the one before it: watcher 2.5.0 `regex_error` + `ios_base::failure`),
 * and matching pairs descriptors by name wherever the linker moved them (match-images.ts).
 */
import { sectionAt, type MappedImage } from './map-image.ts';

/**
 * The decorated name of the TypeDescriptor at `start` whose bytes up to `end` are that
 * descriptor and zero padding (no relocated pointer but its vftable), else null.
 */
export function typeDescriptorName(img: MappedImage, start: number, end: number): string | null {
  const b = img.image;
  if (start % 8 !== 0 || end - start < 20 || end > b.length || img.relocs.get(start) !== 10) return null;
  if (sectionAt(img, start)?.writable !== true) return null;
  for (let k = start + 8; k < start + 16; k++) if (b[k] !== 0 || img.relocs.has(k)) return null;
  if (b[start + 16] !== 0x2e || b[start + 17] !== 0x3f || b[start + 18] !== 0x41) return null; // ".?A"
  let k = start + 16;
  let name = '';
  for (; k < end && b[k] !== 0; k++) {
    const c = b[k]!;
    if (c < 0x20 || c > 0x7e || img.relocs.has(k)) return null;
    name += String.fromCharCode(c);
  }
  if (k >= end) return null;
  for (; k < end; k++) if (b[k] !== 0 || img.relocs.has(k)) return null;
  return name;
}

/** Starts of the TypeDescriptors in writable sections (the name's NUL and padding within the section). */
export function findTypeDescriptors(img: MappedImage): number[] {
  const out: number[] = [];
  for (const s of img.sections) {
    if (!s.writable || s.executable) continue;
    const end = s.rva + Math.min(s.size, s.rawSize);
    for (let p = s.rva + ((8 - (s.rva % 8)) % 8); p + 20 <= end; p += 8) {
      if (img.relocs.get(p) !== 10 || img.image[p + 16] !== 0x2e) continue;
      // Up to the name's NUL, rounded up to 8 (the next descriptor's alignment).
      let nul = p + 16;
      while (nul < end && img.image[nul] !== 0) nul++;
      if (nul >= end) continue;
      if (typeDescriptorName(img, p, Math.min(end, (nul + 8) & ~7)) !== null) out.push(p);
    }
  }
  return out;
}
