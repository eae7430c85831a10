/**
 * The target identity a package carries: what names OLD (machine, TimeDateStamp,
 * SizeOfImage, CheckSum, ImageBase, CodeView) and a hash of the OLD bytes the package relies
 * on; and the default series baseline named after OLD.
 */
import { asRva } from '../../common/types.ts';
import type { TargetIdentity } from '../../formats/package.ts';
import { defaultBaselineId as defaultIdOf } from '../../formats/baseline.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { MappedImage } from '../image/map-image.ts';
import { subtractUnstable, unstableRanges } from '../image/stable-ranges.ts';

/** The baseline id used when none is given: module, TimeDateStamp and SizeOfImage of OLD. */
export function defaultBaselineId(img: MappedImage, moduleName: string): string {
  return defaultIdOf({ moduleName, timeDateStamp: img.pe.fileHeader.timeDateStamp, sizeOfImage: img.pe.optionalHeader.sizeOfImage });
}

/** The target identity of OLD, pinning the bytes the package relies on. */
export function identityOf(img: MappedImage, moduleName: string, relied: Array<[number, number]>): TargetIdentity {
  // Only bytes a running process keeps (code, read-only data): compiler/image/stable-ranges.ts.
  // Ranges must be disjoint and non-adjacent: touching ones are merged.
  const merged = subtractUnstable(relied, unstableRanges(img));
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
    reliedSha256: merged.length === 0 ? new Uint8Array(0) : sha256(buf),
  };
}
