/**
 * Order between anchors (BinDiff's "sequence" rule, generalised): linkers keep the order of
 * functions of one object file, so between two matched pairs that keep their order the
 * unmatched functions of OLD and NEW are mostly the same functions. Inside each such run an
 * LCS over shape hashes pairs the ones whose shapes agree; between two consecutive LCS pairs
 * (or an LCS pair and an anchor) a gap with as many unmatched functions on each side is paired
 * slot by slot. The earlier rule bridged only a one-function gap, so a run of moved functions
 * whose references all changed stayed "removed" + "added".
 *
 * A slot pair rests on position alone: the caller's `pair` refuses two unrelated bodies
 * (match-images.ts, bodyGate), since a pair is a redirect.
 */

import { lcsPairs } from './lcs.ts';

/** Cells of one run's LCS table above which the run is paired by equal-size gaps only. */
const MAX_CELLS = 1_000_000;

/**
 * Pairs unmatched functions between ordered anchors. `pair(o, n)` records a pair (true when
 * both were unmatched); `fruitless` remembers runs that paired nothing, across calls.
 * Returns the number of new pairs.
 */
export function pairBetweenAnchors(
  fnNewToOld: Int32Array,
  fnOldToNew: Int32Array,
  oldShape: readonly string[],
  newShape: readonly string[],
  pair: (o: number, n: number) => boolean,
  fruitless: Set<string> = new Set(),
): number {
  let made = 0;
  let lastN = -1;
  let lastO = -1;
  const runs: Array<[number, number, number, number]> = [];
  for (let n = 0; n <= fnNewToOld.length; n++) {
    const o = n === fnNewToOld.length ? fnOldToNew.length : fnNewToOld[n]!;
    if (o < 0 || o <= lastO) continue;
    if (n - lastN > 1 && o - lastO > 1) runs.push([lastO + 1, o, lastN + 1, n]);
    lastN = n;
    lastO = o;
  }
  for (const [os, oe, ns, ne] of runs) {
    const olds: number[] = [];
    const news: number[] = [];
    for (let k = os; k < oe; k++) if (fnOldToNew[k] === -1) olds.push(k);
    for (let k = ns; k < ne; k++) if (fnNewToOld[k] === -1) news.push(k);
    if (olds.length === 0 || news.length === 0) continue;
    // A run that paired nothing last time, with the same unmatched functions, would pair
    // nothing again (the shapes do not change): the match loop asks after every round.
    const key = `${olds.join(',')}/${news.join(',')}`;
    if (fruitless.has(key)) continue;
    const before = made;
    const anchors: Array<[number, number]> = (olds.length + 1) * (news.length + 1) <= MAX_CELLS ? lcsPairs(...shapeIds(olds, news, oldShape, newShape)) : [];
    // Equal-size gaps between LCS pairs (and the run's ends) pair slot by slot.
    let pi = 0;
    let pj = 0;
    for (const [i, j] of [...anchors, [olds.length, news.length] as [number, number]]) {
      if (i - pi === j - pj) for (let k = 0; k < i - pi; k++) if (pair(olds[pi + k]!, news[pj + k]!)) made++;
      if (i < olds.length && pair(olds[i]!, news[j]!)) made++;
      pi = i + 1;
      pj = j + 1;
    }
    if (made === before) fruitless.add(key);
  }
  return made;
}

/** The two runs' shapes as ids (equal shape, equal id) for the LCS. */
function shapeIds(olds: readonly number[], news: readonly number[], oldShape: readonly string[], newShape: readonly string[]): [Int32Array, Int32Array] {
  const ids = new Map<string, number>();
  const id = (h: string): number => {
    let k = ids.get(h);
    if (k === undefined) ids.set(h, (k = ids.size));
    return k;
  };
  return [Int32Array.from(olds, (k) => id(oldShape[k]!)), Int32Array.from(news, (k) => id(newShape[k]!))];
}
