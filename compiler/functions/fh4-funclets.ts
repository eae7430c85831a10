/**
 * Code entries FH4 data names that have no .pdata entry, as extra roots for function
 * discovery. MSVC compiles an unwind action it cannot express as "destructor + frame
 * offset" into a small funclet (`lea rcx, [rdx+X]; jmp dtor`): no prologue, so no .pdata
 * entry, and no call or jump reaches it; only the FuncInfo4 names it. Likewise a leaf
 * destructor the unwind map calls directly may be called from nowhere else. Unless
 * discovery knows them as functions, a carried parent's reference resolves nowhere and the
 * parent is refused, although they are ordinary code that matches like any other.
 *
 * Discovery runs before handler routines are classified (the classifier needs the function
 * table), so this reads the data on its own, conservatively: a handler routine counts as
 * FH4 only when its users' FuncInfo4s sit right after their handler data with one agreed
 * form (fh4FormHint) and EVERY user's data parses strictly. A root found this way is only a
 * start for descent; it decides no verdict (the handler is classified again later).
 */
import type { RuntimeFunction } from '../../runtime/pe/types.ts';
import { sectionAt, type MappedImage } from '../image/map-image.ts';
import { fh4FormHint, parseFh4, type Fh4Context } from '../eh/fh4.ts';
import { frameSizeOf } from '../eh/parse-handler-data.ts';

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;
const UNW_FLAG_CHAININFO = 4;

/**
 * Entries of functions (unwind funclets, destructors; catch funclets always have .pdata)
 * named by the FH4 handler data of `pdata` that start no .pdata entry, sorted. Empty for
 * images without FH4 data.
 */
export function findFh4FuncletRoots(img: MappedImage, pdata: readonly RuntimeFunction[]): number[] {
  const starts = new Set<number>(pdata.map((r) => r.beginAddress));
  const users = new Map<number, RuntimeFunction[]>();
  for (const rf of pdata) {
    const u = rf.unwind;
    if (u === null || (u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) === 0 || (u.flags & UNW_FLAG_CHAININFO) !== 0) continue;
    if (u.handler === null || u.handlerData === null) continue;
    const list = users.get(u.handler) ?? [];
    list.push(rf);
    users.set(u.handler, list);
  }
  const isCode = (rva: number): boolean => sectionAt(img, rva)?.executable === true;
  const isData = (rva: number): boolean => {
    const s = sectionAt(img, rva);
    return s !== undefined && !s.executable;
  };
  const roots = new Set<number>();
  for (const list of users.values()) {
    const hints = list.map((rf) => fh4FormHint(img.image, rf.unwind!.handlerData!)).filter((h) => h !== null);
    const form = hints[0];
    // Most users of an FH4 routine have their FuncInfo4 right behind (the rest share a
    // folded copy): require a large, unanimous majority before reading any of them.
    if (form === undefined || hints.some((h) => h !== form) || hints.length * 10 < list.length * 9) continue;
    const found: number[] = [];
    let all = true;
    for (const rf of list) {
      const ctx: Fh4Context = {
        image: img.image,
        functionStart: rf.beginAddress,
        ranges: [{ start: rf.beginAddress, end: rf.endAddress }],
        isFunctionStart: (rva) => starts.has(rva),
        isCode,
        isData,
        frameSize: frameSizeOf(rf.unwind!.version, rf.unwind!.unwindCodes),
      };
      const p = parseFh4(ctx, rf.unwind!.handlerData!, form);
      if (!p.ok) {
        all = false;
        break;
      }
      for (const st of [p.value.inline, ...p.value.structures]) {
        for (const fld of st.fields) if (fld.role === 'function' && !starts.has(fld.target)) found.push(fld.target);
      }
    }
    if (all) for (const f of found) roots.add(f);
  }
  return [...roots].sort((a, b) => a - b);
}
