/**
 * lcsPairs (bit-parallel rows) against the cell-by-cell table it replaced: the same pairs,
 * not just an LCS of the same length, since the layout verdict and the order matcher read
 * which elements are paired. Random sequences over small and large alphabets, lengths across
 * 32-bit word boundaries, and the shapes real bodies have (long equal runs, one edit).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { lcsPairs } from './lcs.ts';

/** The full suffix table, walked as lcsPairs documents. */
function referencePairs(a: readonly number[], b: readonly number[]): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const t: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push([i++, j++]);
    else if (t[i + 1]![j]! >= t[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

describe('lcsPairs', () => {
  test('equals the cell-by-cell table on random sequences', () => {
    for (const alphabet of [2, 4, 40, 1000]) {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: alphabet - 1 }), { maxLength: 140 }), fc.array(fc.integer({ min: 0, max: alphabet - 1 }), { maxLength: 140 }), (a, b) => {
          expect(lcsPairs(Int32Array.from(a), Int32Array.from(b))).toEqual(referencePairs(a, b));
        }),
        { numRuns: 150 },
      );
    }
  });

  test('equals the table on long sequences with one edit, and at word boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 60, maxLength: 300 }), fc.nat(), fc.integer({ min: -2, max: 2 }), (a, at, edit) => {
        const b = a.slice();
        const k = at % a.length;
        if (edit < 0) b.splice(k, -edit);
        else b.splice(k, 0, ...new Array<number>(edit).fill(31));
        expect(lcsPairs(a, b)).toEqual(referencePairs(a, b));
      }),
      { numRuns: 200 },
    );
    for (const m of [31, 32, 33, 63, 64, 65, 96]) {
      const a = Array.from({ length: 70 }, (_, i) => (i * 7) % 5);
      const b = Array.from({ length: m }, (_, i) => (i * 3) % 5);
      expect(lcsPairs(a, b)).toEqual(referencePairs(a, b));
      expect(lcsPairs(b, a)).toEqual(referencePairs(b, a));
    }
  });

  test('empty and disjoint sequences pair nothing', () => {
    expect(lcsPairs([], [1, 2])).toEqual([]);
    expect(lcsPairs([1, 2], [])).toEqual([]);
    expect(lcsPairs([1, 2, 3], [4, 5])).toEqual([]);
    expect(lcsPairs([1, 2, 3], [1, 2, 3])).toEqual([[0, 0], [1, 1], [2, 2]]);
  });
});
