/**
 * What a package carries: the changed functions the diff found hotpatchable, then every
 * added function they reach (transitively), through code references, through read-only data
 * the package may carry (a new vtable pointing at a new function) and through exception data.
 */
import { parseHandlerData, handlerFields } from '../eh/parse-handler-data.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import type { FunctionChange, ImageDiff } from '../diff/types.ts';

/**
 * The NEW functions to carry, in NEW order. `glue` holds item i when items i and i + 1
 * travel as one run; `dropped` are functions --skip-refused leaves out.
 */
export function carriedFunctions(diff: ImageDiff, verdictOf: ReadonlyMap<number, FunctionChange>, glue: ReadonlySet<number>, dropped: ReadonlyMap<number, string>): FunctionInfo[] {
  const m = diff.match;
  const newFns = m.new.fns.functions;
  const chosen = new Set<number>();
  for (const f of newFns) {
    const c = verdictOf.get(f.index);
    if (c?.status === 'changed' && c.verdict === 'hotpatchable' && !dropped.has(f.index)) chosen.add(f.index);
  }
  const work = [...chosen];
  const seenItems = new Set<number>();
  const visitTarget = (t: number, itemWork: DataItem[]): void => {
    const g = m.new.fns.containing(t);
    if (g !== undefined) {
      if (chosen.has(g.index)) return;
      const c = verdictOf.get(g.index);
      if (c?.status === 'added' && c.verdict === 'hotpatchable' && !dropped.has(g.index)) {
        chosen.add(g.index);
        work.push(g.index);
      }
      return;
    }
    const first = m.new.itemAt(t);
    if (first === undefined || first.writable || seenItems.has(first.index)) return;
    // Every read-only item is followed, carried or not: whether one is carried also depends
    // on what the package carries (resolveTarget), so an over-approximation keeps every
    // function a carried item may point at in the package. Items glued to it travel with it:
    // each step goes to a glued neighbour not seen yet, so a run is walked once (long runs
    // of Go data made a walk of the whole run per item quadratic).
    const run = [first];
    seenItems.add(first.index);
    while (run.length > 0) {
      const item = run.pop()!;
      itemWork.push(item);
      for (const i of [item.index + 1, item.index - 1]) {
        const nb = m.new.items[i];
        if (nb === undefined || nb.writable || seenItems.has(i) || !glue.has(Math.min(i, item.index))) continue;
        seenItems.add(i);
        run.push(nb);
      }
    }
  };
  while (work.length > 0) {
    const f = newFns[work.pop()!]!;
    const itemWork: DataItem[] = [];
    // A parent and its funclets travel together (the diff made them change together).
    for (const k of diff.ehGroupOf.get(f.index) ?? []) visitTarget(newFns[k]!.entry, itemWork);
    for (const r of f.decoded.refs) visitTarget(r.target, itemWork);
    for (const rf of f.pdata) {
      if (rf.unwind?.handler !== null && rf.unwind?.handler !== undefined) visitTarget(rf.unwind.handler, itemWork);
      // MSVC handler data reaches funclets, filters and other functions' code.
      const hd = parseHandlerData(m.new.img, m.new.fns, f, rf);
      if (hd?.kind === 'msvc') for (const x of handlerFields(hd.data)) if (x.field.role !== 'table') visitTarget(x.field.target, itemWork);
    }
    while (itemWork.length > 0) {
      const item = itemWork.pop()!;
      for (const rel of relocsIn(m.new.img, item.start, item.end)) visitTarget(absTarget(m.new.img, rel, m.new.img.relocs.get(rel)!), itemWork);
      for (const t of m.new.relTables.get(item.start)?.targets ?? []) visitTarget(t, itemWork);
    }
  }
  return newFns.filter((f) => chosen.has(f.index));
}
