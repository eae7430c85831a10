/**
 * Longest common subsequence of two sequences of ids (equal ids = equal elements): the
 * aligned index pairs in order. Callers bound n*m (and trim common ends first).
 *
 * Which pairs: the walk from (0, 0) over the table t[i][j] = LCS length of a[i..] and b[j..]
 * that takes an equal pair when it sees one, else steps in `a` when t[i+1][j] >= t[i][j+1],
 * else in `b`. The table is computed bit-parallel (Allison-Dix / Crochemore et al.,
 * "A fast and practical bit-vector algorithm for the longest common subsequence problem"):
 * one row is a bit vector over `b` whose set bits count where the LCS length steps, updated
 * a 32-bit word at a time, so n*m/32 word operations instead of n*m cells (the layout
 * verdict aligns bodies of thousands of instructions). Rows are kept, with per-word prefix
 * popcounts, so the walk reads any t[i][j] in O(1): the same pairs as the cell-by-cell table.
 */
export function lcsPairs(a: ArrayLike<number>, b: ArrayLike<number>): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const out: Array<[number, number]> = [];
  if (n === 0 || m === 0) return out;
  const rows = suffixRows(a, b);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push([i++, j++]);
    else if (rows.lcs(i + 1, j) >= rows.lcs(i, j + 1)) i++;
    else j++;
  }
  return out;
}

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** The LCS lengths of every pair of suffixes of `a` and `b`, as bit-vector rows. */
interface SuffixRows {
  /** LCS length of a[i..] and b[j..] (0 <= i <= n, 0 <= j <= m). */
  lcs(i: number, j: number): number;
}

/**
 * Rows over the reversed sequences: suffixes of a and b are prefixes of reverse(a) and
 * reverse(b). Bit p of row k stands for position p of reverse(b); after k elements of
 * reverse(a), the LCS with the first p elements of reverse(b) is p minus the set bits
 * among bits 0..p-1 (row 0 is all ones: LCS 0).
 */
function suffixRows(a: ArrayLike<number>, b: ArrayLike<number>): SuffixRows {
  const n = a.length;
  const m = b.length;
  const words = (m + 31) >>> 5;
  // A match mask per id that occurs in both: bit p set where reverse(b)[p] is that id.
  const slot = new Map<number, number>();
  for (let i = 0; i < n; i++) slot.set(a[i]!, -1);
  let ids = 0;
  for (let p = 0; p < m; p++) {
    const s = slot.get(b[m - 1 - p]!);
    if (s === -1) slot.set(b[m - 1 - p]!, ids++);
  }
  const masks = new Int32Array(ids * words);
  for (let p = 0; p < m; p++) {
    const s = slot.get(b[m - 1 - p]!);
    if (s !== undefined) masks[s * words + (p >>> 5)]! |= 1 << (p & 31);
  }
  const v = new Int32Array((n + 1) * words).fill(-1);
  // Set bits of words 0..w-1 of row k, at cum[k * (words + 1) + w].
  const cum = new Int32Array((n + 1) * (words + 1));
  for (let w = 0; w < words; w++) cum[w + 1] = cum[w]! + 32;
  for (let k = 1; k <= n; k++) {
    const s = slot.get(a[n - k]!)!;
    const prev = (k - 1) * words;
    const row = k * words;
    const c = k * (words + 1);
    if (s < 0) {
      v.copyWithin(row, prev, prev + words);
    } else {
      // V' = (V + U) | (V - U) with U = V & M; U is a subset of V, so V - U = V & ~U.
      const mb = s * words;
      let carry = 0;
      for (let w = 0; w < words; w++) {
        const x = v[prev + w]!;
        const u = x & masks[mb + w]!;
        const sum = (x >>> 0) + (u >>> 0) + carry;
        carry = sum > 0xffffffff ? 1 : 0;
        v[row + w] = sum | (x & ~u);
      }
    }
    for (let w = 0; w < words; w++) cum[c + w + 1] = cum[c + w]! + popcount(v[row + w]!);
  }
  return {
    lcs(i, j) {
      const k = n - i;
      const p = m - j;
      const w = p >>> 5;
      const r = p & 31;
      let ones = cum[k * (words + 1) + w]!;
      if (r !== 0) ones += popcount(v[k * words + w]! & ((1 << r) - 1));
      return p - ones;
    },
  };
}
