/**
 * The target identity a package carries: what names OLD (machine, TimeDateStamp,
 * SizeOfImage, CheckSum, ImageBase, CodeView) and a hash of the OLD bytes the package relies
 * on; and the default series baseline named after OLD.
 */
import { asRva } from '../../common/types.ts';
import { RELIED_HASH_LENGTH, type TargetIdentity } from '../../formats/package.ts';
import { defaultBaselineId as defaultIdOf } from '../../formats/baseline.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { MappedImage } from '../image/map-image.ts';
import { subtractUnstable, unstableOverlap, unstableRanges, type UnstableRange } from '../image/stable-ranges.ts';

/** The baseline id used when none is given: module, TimeDateStamp and SizeOfImage of OLD. */
export function defaultBaselineId(img: MappedImage, moduleName: string): string {
  return defaultIdOf({ moduleName, timeDateStamp: img.pe.fileHeader.timeDateStamp, sizeOfImage: img.pe.optionalHeader.sizeOfImage });
}

/** Longest run of padding between two relied ranges that bridgeGaps joins them over anywhere. */
const MAX_PADDING_BRIDGE = 64;

/**
 * Longest gap of any bytes inside one section that bridgeGaps joins two relied ranges over.
 * Measured (bench/size-breakdown.ts, complete packages, one tree each): 1 KiB, 4 KiB and
 * 16 KiB took sharp 0.34.3 -> 0.34.4 from 139 ranges to 32 / 13 / 4 and 17,123 to 16,833 /
 * 16,766 / 16,729 bytes, watcher 2.5.0 -> 2.5.1 300 -> 40 / 7 / 4 ranges; 4 KiB keeps
 * most of the gain while the bytes pinned stay near what the package uses.
 */
const MAX_GAP_BRIDGE = 4096;

/**
 * Sorted, disjoint ranges with every gap of up to MAX_GAP_BRIDGE bytes inside one section of
 * `img` that holds no `unstable` byte joined, and every gap of up to MAX_PADDING_BRIDGE bytes that holds only int3 (0xCC)
 * or nop (0x90) padding. Relying on those bytes too asks nothing new of a running process:
 * the caller subtracts the unstable ranges again (compiler/image/stable-ranges.ts), so what
 * a bridge covers is code or read-only data no one writes (the runtime compares the baseline,
 * with any applied package's redirects undone), and a process whose bytes differ there is
 * refused, never patched. Each join saves a (gap, length) pair: the complete package of sharp
 * 0.34.4 -> 0.34.5 went from 265 to 108 ranges over padding alone, 119 -> 17 with the gaps.
 */
export function bridgeGaps(
  img: { readonly image: Uint8Array; readonly sections: ReadonlyArray<{ readonly rva: number; readonly size: number }> },
  ranges: ReadonlyArray<[number, number]>,
  unstable: readonly UnstableRange[] = [],
): Array<[number, number]> {
  const sectionOf = (rva: number): number => img.sections.findIndex((x) => rva >= x.rva && rva < x.rva + x.size);
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const last = out[out.length - 1];
    const gap = last === undefined ? Infinity : s - last[1];
    // A gap holding an unstable byte would be cut there again: bridging it saves no pair.
    const oneSection = last !== undefined && gap <= MAX_GAP_BRIDGE && sectionOf(last[1] - 1) >= 0 && sectionOf(last[1] - 1) === sectionOf(s) && unstableOverlap(last[1], s, unstable) === undefined;
    if (last !== undefined && (oneSection || (gap <= MAX_PADDING_BRIDGE && isPadding(img.image, last[1], s)))) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function isPadding(image: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (image[i] !== 0xcc && image[i] !== 0x90) return false;
  return true;
}

/** The target identity of OLD, pinning the bytes the package relies on. */
export function identityOf(img: MappedImage, moduleName: string, relied: Array<[number, number]>): TargetIdentity {
  // Only bytes a running process keeps (code, read-only data): compiler/image/stable-ranges.ts.
  // Ranges must be disjoint and non-adjacent: touching ones are merged.
  // Gaps are bridged between stable pieces only; subtracting again keeps a bridge off any
  // unstable byte that split a range (an unstable run of 0xCC is still unstable).
  const unstable = unstableRanges(img);
  const merged = subtractUnstable(bridgeGaps(img, subtractUnstable(relied, unstable), unstable), unstable);
  const total = merged.reduce((n, [s, e]) => n + (e - s), 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const [s, e] of merged) {
    buf.set(img.image.subarray(s, e), at);
    at += e - s;
  }
  const pe = img.pe;
  let codeView: TargetIdentity['codeView'] = null;
  const cv = pe.debug.find((d) => d.type === 2);
  if (cv !== undefined && pe.codeView !== null) {
    const rva = cv.addressOfRawData;
    if (rva + 24 <= img.image.length && img.image[rva] === 0x52 && img.image[rva + 1] === 0x53 && img.image[rva + 2] === 0x44 && img.image[rva + 3] === 0x53) {
      codeView = { guid: img.image.slice(rva + 4, rva + 20), age: pe.codeView.age, pdbPath: pe.codeView.path };
    }
  }
  return {
    machine: pe.fileHeader.machine,
    timeDateStamp: pe.fileHeader.timeDateStamp,
    sizeOfImage: pe.optionalHeader.sizeOfImage,
    checkSum: pe.optionalHeader.checkSum,
    imageBase: pe.optionalHeader.imageBase,
    codeView,
    moduleName,
    reliedRanges: merged.map(([s, e]) => ({ rva: asRva(s), length: e - s })),
    // Since format 1.3 a package that relies on no bytes (its redirect sites are pinned by
    // their expected bytes) carries no hash: 34 bytes of a one-function package.
    // Since format 2.8 the first 16 bytes of the digest (RELIED_HASH_LENGTH): FORMAT.md, "TargetIdentity".
    reliedSha256: merged.length === 0 ? new Uint8Array(0) : sha256(buf).slice(0, RELIED_HASH_LENGTH),
  };
}
