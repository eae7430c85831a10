/**
 * The image as the Windows loader lays it out (sections at their RVAs, zero fill past raw
 * data), plus the lookups every compiler stage needs: which section holds an RVA, where
 * base relocations sit, which RVAs are IAT slots. The bytes come from the wasm core's
 * lenient mapper (runtime/pe/map-image.ts `mapImageLenient`, PE_* codes: one mapper for
 * the runtime and the compiler); this module only turns `parsePe`'s tables into lookups.
 */
import { ok, type Result } from '../../common/errors.ts';
import { asVa, type Rva, type Va } from '../../common/types.ts';
import { mapImageLenient } from '../../runtime/pe/map-image.ts';
import type { PeFile } from '../../runtime/pe/types.ts';
import { lowerBound } from '../../common/search.ts';
import {
  IMAGE_REL_BASED_DIR64,
  IMAGE_REL_BASED_HIGHLOW,
  IMAGE_SCN_CNT_CODE,
  IMAGE_SCN_MEM_EXECUTE,
  IMAGE_SCN_MEM_WRITE,
} from '../../runtime/pe/types.ts';

/** A section as mapped: its RVA range and what it may hold. */
export interface MappedSection {
  readonly name: string;
  readonly rva: Rva;
  /** Mapped size: VirtualSize (or SizeOfRawData when VirtualSize is 0). */
  readonly size: number;
  /** Bytes backed by the file (SizeOfRawData, at most `size`); the rest is zero fill (.bss). */
  readonly rawSize: number;
  readonly executable: boolean;
  readonly writable: boolean;
  readonly characteristics: number;
}

/** An imported symbol, as an IAT slot names it. */
export interface ImportName {
  readonly dll: string;
  /** `name` or `#ordinal`. */
  readonly symbol: string;
}

/** A mapped PE image and its lookup tables. */
export interface MappedImage {
  readonly pe: PeFile;
  /** The image bytes at their RVAs, `sizeOfImage` long. */
  readonly image: Uint8Array;
  /** The preferred load address (OptionalHeader.ImageBase). */
  readonly imageBase: Va;
  /** Sections sorted by RVA. */
  readonly sections: readonly MappedSection[];
  /** RVA -> relocation type (DIR64 or HIGHLOW) for every base relocation. */
  readonly relocs: ReadonlyMap<number, number>;
  /** Sorted RVAs of the base relocations, for range queries. */
  readonly relocRvas: Uint32Array;
  /** IAT slot RVA -> the import it holds. */
  readonly iat: ReadonlyMap<number, ImportName>;
}

/**
 * Maps `bytes` as the loader would at their own ImageBase (no relocation applied), after
 * `parsePe` gave `pe`. Errors are the wasm mapper's (PE_IMAGE_TOO_LARGE, PE_BAD_SECTION).
 */
export function mapImage(bytes: Uint8Array, pe: PeFile): Result<MappedImage> {
  const image = mapImageLenient(bytes);
  if (!image.ok) return image;
  const sections: MappedSection[] = pe.sections.map((s) => {
    const size = s.virtualSize === 0 ? s.sizeOfRawData : s.virtualSize;
    return {
      name: s.name,
      rva: s.virtualAddress,
      size,
      rawSize: Math.min(s.sizeOfRawData, size),
      executable: (s.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) !== 0,
      writable: (s.characteristics & IMAGE_SCN_MEM_WRITE) !== 0,
      characteristics: s.characteristics,
    };
  });
  sections.sort((a, b) => a.rva - b.rva);
  const relocs = new Map<number, number>();
  for (const r of pe.relocations.entries) {
    if (r.type === IMAGE_REL_BASED_DIR64 || r.type === IMAGE_REL_BASED_HIGHLOW) relocs.set(r.rva, r.type);
  }
  const relocRvas = Uint32Array.from(relocs.keys()).sort();
  const iat = new Map<number, ImportName>();
  for (const d of pe.imports) {
    for (const sym of d.symbols) {
      iat.set(sym.iatRva, { dll: d.dll.toLowerCase(), symbol: sym.name ?? `#${sym.ordinal ?? 0}` });
    }
  }
  return ok({ pe, image: image.value, imageBase: asVa(pe.optionalHeader.imageBase), sections, relocs, relocRvas, iat });
}

/** The section holding `rva`, or undefined (headers, gaps, past the end). */
export function sectionAt(img: MappedImage, rva: number): MappedSection | undefined {
  const s = img.sections;
  let lo = 0;
  let hi = s.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = s[mid]!;
    if (rva < m.rva) hi = mid - 1;
    else if (rva >= m.rva + m.size) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** True when `rva` lies in an executable section. */
export function isCode(img: MappedImage, rva: number): boolean {
  return sectionAt(img, rva)?.executable === true;
}

export { lowerBound };

/** Base relocations whose fixed-up field starts in [start, end). */
export function relocsIn(img: MappedImage, start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = lowerBound(img.relocRvas, start); i < img.relocRvas.length && img.relocRvas[i]! < end; i++) out.push(img.relocRvas[i]!);
  return out;
}

/** Reads a little-endian u32 at `rva` of the mapped image (0 past the end). */
export function readU32(img: MappedImage, rva: number): number {
  if (rva < 0 || rva + 4 > img.image.length) return 0;
  const b = img.image;
  return (b[rva]! | (b[rva + 1]! << 8) | (b[rva + 2]! << 16) | (b[rva + 3]! << 24)) >>> 0;
}

/** Reads a little-endian u64 at `rva` of the mapped image as a bigint (0 past the end). */
export function readU64(img: MappedImage, rva: number): bigint {
  return BigInt(readU32(img, rva)) | (BigInt(readU32(img, rva + 4)) << 32n);
}

/**
 * The RVA an absolute address field at `rva` points to (the value minus ImageBase), or -1
 * when it falls outside the image. `type` is the relocation type (DIR64 or HIGHLOW).
 */
/**
 * The code RVA held by the 8-byte pointer at `rva` when a DIR64 base relocation fixes it up
 * and it points into an executable section; -1 otherwise. What every table of code pointers
 * (constructor lists, `_initterm` arrays, vtables) is made of.
 */
export function codePointerAt(img: MappedImage, rva: number): number {
  if (img.relocs.get(rva) !== IMAGE_REL_BASED_DIR64) return -1;
  const t = absTarget(img, rva, IMAGE_REL_BASED_DIR64);
  return t >= 0 && isCode(img, t) ? t : -1;
}

const codePointerTargetCache = new WeakMap<MappedImage, Int32Array>();

/**
 * Every code RVA an absolute pointer in the image holds (codePointerAt over every DIR64 base
 * relocation), sorted: where a label stored as data (a computed goto's table, a saved
 * continuation) can be found. Computed once per image.
 */
export function codePointerTargets(img: MappedImage): Int32Array {
  let t = codePointerTargetCache.get(img);
  if (t === undefined) {
    const out: number[] = [];
    for (const rva of img.relocs.keys()) {
      const c = codePointerAt(img, rva);
      if (c >= 0) out.push(c);
    }
    t = Int32Array.from(out).sort();
    codePointerTargetCache.set(img, t);
  }
  return t;
}

export function absTarget(img: MappedImage, rva: number, type: number): number {
  const v = type === IMAGE_REL_BASED_DIR64 ? readU64(img, rva) : BigInt(readU32(img, rva));
  const t = v - img.imageBase;
  return t < 0n || t >= BigInt(img.image.length) ? -1 : Number(t);
}
