/**
 * Whether a self-relative table (compiler/disasm/relative-tables.ts) has a proven extent, as
 * the verifier needs it: it checks such a table entry by entry wherever the table's image
 * lies, in OLD or in the package (compiler/verify/relative-entries.ts), so a reference that
 * lands on one whose extent is unknown is refused by the diff, never left to the verifier.
 */
import type { RelativeTable } from '../disasm/relative-tables.ts';
import { relocsIn, type MappedImage } from '../image/map-image.ts';
import type { DataItem } from '../image/types.ts';
import { stringExtent } from '../match/normalise.ts';

/**
 * The bytes of read-only item `item` of `img` that the verifier compares wherever the item's
 * image lies (compiler/verify/check-target.ts placeItem): a string up to its terminator,
 * else the item, widened to a pointer that straddles its inferred end.
 */
export function comparedLength(img: MappedImage, item: DataItem): number {
  const strEnd = stringExtent(img.image, item.start, item.end);
  let len = (strEnd ?? item.end) - item.start;
  for (const rel of relocsIn(img, item.start, item.start + len)) len = Math.max(len, rel + 8 - item.start);
  return len;
}

/**
 * Why a reference that lands on read-only `item` of NEW cannot be proven, when `item` is a
 * self-relative table whose entry count no bound check proves (or whose proven entries run
 * past the bytes compared): the verifier checks such a table entry by entry wherever its
 * image lies (in OLD or in the package), and cannot when its extent is unknown. Null otherwise.
 */
export function unprovenRelativeTable(relTables: ReadonlyMap<number, RelativeTable>, img: MappedImage, item: DataItem): string | null {
  const t = relTables.get(item.start);
  if (t === undefined) return null;
  if (t.count !== null && 4 * t.count <= comparedLength(img, item)) return null;
  return `self-relative table at 0x${t.rva.toString(16)} (entries relative to the table) has ${t.count === null ? 'no bound check this compiler recognises' : `${t.count} entries, more than its ${comparedLength(img, item)} bytes hold`}: its extent is unknown, so what its entries mean cannot be checked`;
}
