/**
 * Self-relative code-offset tables the jump-table recogniser does not own: LLVM switch tables
 * (int32 entries relative to the table, `lea rT,[rip+T]; movsxd rX,[rT+rI*4]; add rX,rT;
 * jmp rX`) whose index is bounded by something other than a compare (a byte class table, a
 * hoisted `lea` in a loop). Their bytes are distances from the table to code, so they change
 * whenever the table or the code moves, and keyed as bytes they make every user "changed".
 *
 * Each table is found from the code that reads it (a `lea` target of a function), and an
 * entry counts only while table + entry lands inside a discovered function (the reading one,
 * or the one LLVM moved a cold block into); the table ends before any other referenced
 * address.
 * The normaliser keys such an entry by what it points at (the paired function and offset),
 * never drops it: a target that moved inside a changed function still differs.
 */
import { sectionAt, type MappedImage } from '../image/map-image.ts';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';

/** At most this many entries per table (a bound for hostile input). */
const MAX_ENTRIES = 4096;

/**
 * Entry RVA -> code target of each self-relative code-offset table that the functions' code
 * reads and that is neither a known jump table nor `skip` (other known structures).
 * A table needs two entries at least; it ends before any other referenced address.
 */
export function findCodeOffsetTables(img: MappedImage, table: FunctionTable, skip: (rva: number) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  const fns: readonly FunctionInfo[] = table.functions;
  const image = img.image;
  const referenced = new Set<number>();
  for (const f of fns) {
    for (const r of f.decoded.refs) if (!r.isBranch) referenced.add(r.target);
    for (const t of f.decoded.jumpTables) referenced.add(t.rva);
  }
  // Targets scanned already: a scan reads only the image and the sets above, so another
  // reference to the same target (a constant many functions read) finds the same entries.
  const scanned = new Set<number>();
  for (const f of fns) {
    const own = new Set<number>(f.decoded.jumpTables.map((t) => t.rva));
    for (const r of f.decoded.refs) {
      const T = r.target;
      if (r.isBranch || (T & 3) !== 0 || own.has(T) || out.has(T) || scanned.has(T) || skip(T)) continue;
      scanned.add(T);
      const sec = sectionAt(img, T);
      if (sec === undefined || sec.executable || sec.writable) continue;
      const end = Math.min(sec.rva + sec.rawSize, image.length);
      const found: Array<[number, number]> = [];
      for (let at = T; at + 4 <= end && found.length < MAX_ENTRIES; at += 4) {
        if (at !== T && referenced.has(at)) break;
        if (img.relocs.has(at) || img.relocs.get(at - 4) === 10) break;
        const v = image[at]! | (image[at + 1]! << 8) | (image[at + 2]! << 16) | (image[at + 3]! << 24);
        const target = T + v;
        if (table.containing(target) === undefined) break;
        found.push([at, target]);
      }
      if (found.length >= 2) for (const [at, target] of found) out.set(at, target);
    }
  }
  return out;
}
