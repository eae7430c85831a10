/**
 * Matching through data (BinDiff's data-reference neighbourhood): two matched functions that
 * reference read-only items in the same order reference counterpart items, and two
 * counterpart items hold counterpart pointers at the same offsets. So a vtable that a
 * matched constructor installs pairs its slots: a virtual method no code calls directly is
 * still matched to its new self. Without this, an old method reachable only through its
 * vtable slot looks "removed" and would be left active, running old code on objects whose
 * other methods were redirected (compiler/diff/still-reachable.ts refuses what stays
 * unmatched).
 *
 * Pairing is by position only where both sides agree on the item count and the item sizes,
 * so it cannot pair across a reordered table; a wrong pair of functions would cost size,
 * never safety (the diff compares exact forms). Writable globals pair through such cells only
 * from functions whose code is the same (see pairThroughData).
 */
import type { FunctionInfo } from '../image/types.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { DataItem, ImageAnalysis } from './analyze-image.ts';

const targetsMemo = new WeakMap<FunctionInfo, DataItem[]>();

/** Read-only items function `f` references (non-branch), in reference order (memoised). */
function readOnlyTargets(a: ImageAnalysis, f: FunctionInfo): DataItem[] {
  const hit = targetsMemo.get(f);
  if (hit !== undefined) return hit;
  const out: DataItem[] = [];
  targetsMemo.set(f, out);
  for (const r of f.decoded.refs) {
    if (r.isBranch) continue;
    const d = a.itemAt(r.target);
    if (d !== undefined && !d.writable && !d.jumpTable && r.target === d.start) out.push(d);
  }
  return out;
}

/** Relocated pointers of an item: offset -> target RVA. */
function pointersOf(a: ImageAnalysis, d: DataItem): Map<number, number> {
  const out = new Map<number, number>();
  for (const rel of relocsIn(a.img, d.start, d.end)) out.set(rel - d.start, absTarget(a.img, rel, a.img.relocs.get(rel)!));
  return out;
}

/** Pairing writable globals through pointer cells: `pair` records a pair (false when either is paired). */
export interface WritableThroughData {
  pair(o: number, n: number): boolean;
  /** True when matched functions `o` and `n` have the same shape (normalised code, no match named). */
  sameShape(o: number, n: number): boolean;
}

/**
 * Pairs unmatched functions named by counterpart data slots. `pair(o, n)` records a pair and
 * returns true when both were unmatched. `done` remembers item pairs already walked (per
 * match run), and function pairs already looked at. With `items`, counterpart pointer cells
 * to writable globals pair the globals too. Returns the number of new pairs.
 */
export function pairThroughData(
  oldA: ImageAnalysis,
  newA: ImageAnalysis,
  fnNewToOld: Int32Array,
  pair: (o: number, n: number) => boolean,
  done: Set<string>,
  items?: WritableThroughData,
): number {
  let made = 0;
  // [old item, new item, depth, reached from a function pair whose shapes agree]
  const queue: Array<[DataItem, DataItem, number, boolean]> = [];
  for (let n = 0; n < fnNewToOld.length; n++) {
    const o = fnNewToOld[n]!;
    if (o < 0 || done.has(`f${n}:${o}`)) continue;
    done.add(`f${n}:${o}`);
    const ni = readOnlyTargets(newA, newA.fns.functions[n]!);
    if (ni.length === 0) continue;
    const oi = readOnlyTargets(oldA, oldA.fns.functions[o]!);
    if (oi.length !== ni.length) continue;
    const proven = items?.sameShape(o, n) ?? false;
    for (let k = 0; k < ni.length; k++) queue.push([oi[k]!, ni[k]!, 0, proven]);
  }
  while (queue.length > 0) {
    const [od, nd, depth, proven] = queue.pop()!;
    const key = `${od.index}:${nd.index}`;
    if (done.has(key) || od.end - od.start !== nd.end - nd.start) continue;
    done.add(key);
    const op = pointersOf(oldA, od);
    const np = pointersOf(newA, nd);
    if (op.size !== np.size) continue;
    for (const [off, nt] of np) {
      const ot = op.get(off);
      if (ot === undefined || ot < 0 || nt < 0) continue;
      const of = oldA.fns.byEntry.get(ot);
      const nf = newA.fns.byEntry.get(nt);
      if (of !== undefined && nf !== undefined) {
        if (pair(of.index, nf.index)) made++;
        continue;
      }
      // Pointers to data (a vtable's RTTI locator, a table of vtables): follow a few levels.
      const oi = oldA.itemAt(ot);
      const ni = newA.itemAt(nt);
      // A pointer cell to a writable global (mingw's `.refptr.<name>` in .rdata, which code
      // loads to reach a global another object defines): counterpart cells name counterpart
      // globals. This is what pairs the CRT's globals of a stripped image when they moved
      // (samples/new-catch, GCC: new DW.ref cells push them 0x10 up).
      // Only from a function pair with the same code (its references in the same order): a
      // wrong pair of globals would aim new code at the wrong cell, not just cost size.
      if (items !== undefined && oi !== undefined && ni !== undefined && oi.writable && ni.writable && oi.start === ot && ni.start === nt) {
        if (proven && items.pair(oi.index, ni.index)) made++;
        continue;
      }
      if (depth < 3 && oi !== undefined && ni !== undefined && !oi.writable && !ni.writable && oi.start === ot && ni.start === nt) queue.push([oi, ni, depth + 1, proven]);
    }
  }
  return made;
}
