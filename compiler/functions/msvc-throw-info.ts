/**
 * MSVC C++ throw data in read-only sections holds image-relative RVAs, not relocated
 * pointers: `_CxxThrowException(obj, &ThrowInfo)` reads
 *
 *   ThrowInfo          { u32 attributes; rva pmfnUnwind; rva pForwardCompat; rva pCatchableTypeArray }
 *   CatchableTypeArray { i32 nCatchableTypes; rva arrayOfCatchableTypes[n] }
 *   CatchableType      { u32 properties; rva pType; i32 mdisp, pdisp, vdisp; i32 size; rva copyFunction }
 *
 * and pType names a TypeDescriptor (`{ vftable*, spare, ".?AV...\0" }`). Keyed by raw bytes,
 * such data differs whenever the linker moves what it names (sharp 0.34.4 -> 0.34.5: the
 * ThrowInfo at .rdata 0x61a50 moved its pCatchableTypeArray from 0x619e0 to 0x619f0), and
 * every function that throws looked changed (94 on that pair). Recognised strictly here
 * (every RVA lands where its role says, counts and flags in range), each RVA field is named
 * by what it points at when data is keyed (normalise.ts), and the structures become data items.
 *
 * Starting points: the read-only addresses code references (ThrowInfo is passed by `lea`).
 * Discovery asks too: a destructor or copy constructor named only here (a leaf with no .pdata
 * entry) becomes a function, so the field is keyed by the matched function, not by its RVA.
 */
import { readU32, sectionAt, type MappedImage } from '../image/map-image.ts';

/** Image-relative RVA fields found: field RVA -> target RVA, and the structures' starts. */
export interface RvaFields {
  readonly fields: Map<number, number>;
  readonly starts: Set<number>;
  /** The code the structures name (destructors, copy constructors), discovered or not. */
  readonly code: Set<number>;
}

const MAX_TYPES = 64;

/** Finds ThrowInfo structures at `candidates` (read-only addresses code references). */
export function findThrowInfo(img: MappedImage, isEntry: (rva: number) => boolean, candidates: Iterable<number>): RvaFields {
  const fields = new Map<number, number>();
  const starts = new Set<number>();
  const code = new Set<number>();
  const readOnly = (rva: number): boolean => {
    const s = sectionAt(img, rva);
    return s !== undefined && !s.executable && !s.writable && rva + 4 <= s.rva + s.size;
  };
  const dataAt = (rva: number): boolean => {
    const s = sectionAt(img, rva);
    return s !== undefined && !s.executable;
  };
  // A destructor or copy constructor: a discovered entry, or code (leaf functions have no
  // .pdata entry and may be reached only from here).
  const fnOrZero = (rva: number): boolean => rva === 0 || isEntry(rva) || sectionAt(img, rva)?.executable === true;
  const typeDescriptor = (rva: number): boolean => {
    if (!dataAt(rva) || !img.relocs.has(rva)) return false;
    const b = img.image;
    return b[rva + 16] === 0x2e && b[rva + 17] === 0x3f && b[rva + 18] === 0x41; // ".?A"
  };
  for (const t of candidates) {
    if (!readOnly(t) || !readOnly(t + 12)) continue;
    const attributes = readU32(img, t);
    const unwind = readU32(img, t + 4);
    const compat = readU32(img, t + 8);
    const cta = readU32(img, t + 12);
    if (attributes > 0xff || !fnOrZero(unwind) || compat !== 0 || !readOnly(cta)) continue;
    const n = readU32(img, cta);
    if (n < 1 || n > MAX_TYPES || !readOnly(cta + 4 * n)) continue;
    const types: number[] = [];
    for (let k = 0; k < n; k++) types.push(readU32(img, cta + 4 + 4 * k));
    const ok = types.every((ct) => readOnly(ct) && readOnly(ct + 24) && readU32(img, ct) <= 0xff && typeDescriptor(readU32(img, ct + 4)) && fnOrZero(readU32(img, ct + 24)));
    if (!ok) continue;
    starts.add(t);
    // A code field is a reference only when it names a discovered function; otherwise (a
    // leaf with no .pdata entry) its raw bytes stay in the key: equal only at the same RVA.
    if (isEntry(unwind)) fields.set(t + 4, unwind);
    if (unwind !== 0) code.add(unwind);
    fields.set(t + 12, cta);
    starts.add(cta);
    types.forEach((ct, k) => {
      fields.set(cta + 4 + 4 * k, ct);
      starts.add(ct);
      fields.set(ct + 4, readU32(img, ct + 4));
      starts.add(readU32(img, ct + 4));
      const copy = readU32(img, ct + 24);
      if (isEntry(copy)) fields.set(ct + 24, copy);
      if (copy !== 0) code.add(copy);
    });
  }
  return { fields, starts, code };
}
