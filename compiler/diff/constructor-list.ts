/**
 * The static constructor list of a mingw-w64 image, found from its bytes and base
 * relocations alone, so a stripped image is read like one with symbols.
 *
 * GCC puts C++ dynamic initialisers (`_GLOBAL__sub_I_*`) and `__attribute__((constructor))`
 * functions in `.ctors` input sections; clang for x86_64-w64-mingw32 does too. Both linkers
 * lay out the list the mingw CRT's `__do_global_ctors` walks, followed at once by the
 * destructor list:
 *
 *   __CTOR_LIST__: -1 (8 bytes), a pointer per constructor, 0;  __DTOR_LIST__: -1, ..., 0
 *
 * GNU ld puts both at the end of .text (its default script), lld in .rdata. Each pointer
 * carries a DIR64 base relocation. So a run `-1, relocated pointers into code, 0` directly
 * followed by another such run is the constructor list and then the destructor list; the
 * first is what ran when the module loaded (the CRT calls its entries last to first), the
 * second runs at unload, after any patch, and is no initialiser.
 *
 * MSVC's CRT has no such list: its initialisers are null-bounded arrays `_initterm` walks,
 * known in a stripped image only from the code that passes their bounds
 * (msvc-initializers.ts).
 */
import { asRva, type Rva } from '../../common/types.ts';
import { codePointerAt, readU32 } from '../image/map-image.ts';
import type { MappedImage } from '../image/map-image.ts';
import { IMAGE_REL_BASED_DIR64 } from '../../runtime/pe/types.ts';

/** A constructor list: where it lies and the code each of its entries points at. */
export interface ConstructorList {
  /** RVA of its leading -1 word (`__CTOR_LIST__`). */
  readonly rva: Rva;
  /** RVA of each entry (a relocated pointer slot), in list order. */
  readonly slots: readonly Rva[];
  /** The code RVA each entry points at, in list order. */
  readonly targets: readonly Rva[];
}

/** One `-1, pointers, 0` run starting at `at`: its slots and targets and the RVA past its 0, or null. */
function readRun(img: MappedImage, at: number, end: number): { slots: Rva[]; targets: Rva[]; next: number } | null {
  if (at + 16 > end || readU32(img, at) !== 0xffff_ffff || readU32(img, at + 4) !== 0xffff_ffff) return null;
  const slots: Rva[] = [];
  const targets: Rva[] = [];
  let p = at + 8;
  for (; p + 8 <= end && img.relocs.get(p) === IMAGE_REL_BASED_DIR64; p += 8) {
    const t = codePointerAt(img, p);
    if (t < 0) return null;
    slots.push(asRva(p));
    targets.push(asRva(t));
  }
  if (p + 8 > end || readU32(img, p) !== 0 || readU32(img, p + 4) !== 0 || img.relocs.has(p)) return null;
  return { slots, targets, next: p + 8 };
}

/**
 * Every constructor list of `img` (normally one, or none: MSVC images have none): a
 * `-1, relocated code pointers, 0` run in a non-writable section immediately followed by
 * the destructor list's run. Scans 8-aligned words.
 */
export function findConstructorLists(img: MappedImage): ConstructorList[] {
  const out: ConstructorList[] = [];
  for (const s of img.sections) {
    if (s.writable) continue;
    const end: number = s.rva + Math.min(s.size, s.rawSize);
    for (let at: number = s.rva; at + 32 <= end; at += 8) {
      if (readU32(img, at) !== 0xffff_ffff) continue;
      const ctors = readRun(img, at, end);
      if (ctors === null) continue;
      const dtors = readRun(img, ctors.next, end);
      if (dtors === null) continue;
      out.push({ rva: asRva(at), slots: ctors.slots, targets: ctors.targets });
      at = dtors.next - 8;
    }
  }
  return out;
}
