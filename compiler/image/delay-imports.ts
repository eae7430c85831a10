/**
 * Delay-load import descriptors (ImgDelayDescr, 32 bytes each in the DelayImport directory:
 * attributes, rvaDLLName, rvaHmod, rvaIAT, rvaINT, rvaBoundIAT, rvaUnloadIAT, timestamp).
 *
 * MSVC's delay-load tail thunk (`__tailMerge_<dll>`) passes its DLL's descriptor to
 * `__delayLoadHelper2(pidd, ppfnIATEntry)`: `lea rcx, [rip + descriptor]`. The descriptor
 * sits in the import tables, which move with every layout change, so the thunk looked changed
 * and every function reaching a delay-loaded import through it was carried literally
 * (watcher 2.5.0 -> 2.5.1: the descriptor moved 0x75bfc -> 0x76f2c, 28 functions). A reference
 * to the start of a descriptor means the descriptor of that DLL: OLD's descriptor of the same
 * DLL is its image. That is sound because the helper only reads it, and finds the symbol by
 * the slot's index in the descriptor's own IAT: the slot the new code passes is OLD's slot of
 * the same import (imports match by DLL and symbol, match/import-identity.ts), so OLD's
 * descriptor names the same symbol at that index.
 */
import { readU32, type MappedImage } from './map-image.ts';
import { DirectoryIndex } from '../../runtime/pe/types.ts';

const cache = new WeakMap<MappedImage, ReadonlyMap<number, string>>();

/** Descriptor RVA -> its DLL's name (lower case), for the DLLs that have one descriptor. */
export function delayDescriptors(img: MappedImage): ReadonlyMap<number, string> {
  const hit = cache.get(img);
  if (hit !== undefined) return hit;
  const out = new Map<number, string>();
  const seen = new Map<string, number>();
  const d = img.pe.dataDirectories[DirectoryIndex.DelayImport];
  if (d !== undefined && d.size > 0) {
    const end = Math.min(d.virtualAddress + d.size, img.image.length);
    for (let p: number = d.virtualAddress; p + 32 <= end; p += 32) {
      const nameRva = readU32(img, p + 4);
      if (nameRva === 0) break;
      // Bit 0 of the attributes: the fields are RVAs (every VC7+ linker); else VAs, not read.
      if ((readU32(img, p) & 1) === 0) continue;
      const name = cString(img, nameRva);
      if (name === null) break;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      out.set(p, name);
    }
  }
  for (const [p, name] of out) if (seen.get(name) !== 1) out.delete(p);
  cache.set(img, out);
  return out;
}

/** The DLL whose delay-load descriptor starts at `rva`, or null. */
export function delayDescriptorDll(img: MappedImage, rva: number): string | null {
  return delayDescriptors(img).get(rva) ?? null;
}

/** The start of `img`'s delay-load descriptor of `dll`, or null. */
export function delayDescriptorOf(img: MappedImage, dll: string): number | null {
  for (const [p, name] of delayDescriptors(img)) if (name === dll) return p;
  return null;
}

function cString(img: MappedImage, rva: number): string | null {
  let s = '';
  for (let k = rva; k > 0 && k < img.image.length && s.length < 256; k++) {
    const c = img.image[k]!;
    if (c === 0) return s.length > 0 ? s.toLowerCase() : null;
    if (c < 0x20 || c > 0x7e) return null;
    s += String.fromCharCode(c);
  }
  return null;
}
