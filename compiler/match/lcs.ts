/**
 * Longest common subsequence of two sequences, by an equality predicate: the aligned index
 * pairs in order. O(n*m) time and memory; callers bound n*m (and trim common ends first).
 */
export function lcsPairs(n: number, m: number, eq: (i: number, j: number) => boolean): Array<[number, number]> {
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) t[i * w + j] = eq(i, j) ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
  }
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (eq(i, j)) out.push([i++, j++]);
    else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) i++;
    else j++;
  }
  return out;
}
