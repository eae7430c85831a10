/**
 * Longest common subsequence of two sequences of ids (equal ids = equal elements): the
 * aligned index pairs in order. O(n*m) time and memory; callers bound n*m (and trim common
 * ends first). The table is 16-bit when the shorter side allows it.
 */
export function lcsPairs(a: ArrayLike<number>, b: ArrayLike<number>): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const t = Math.min(n, m) < 0xffff ? new Uint16Array((n + 1) * w) : new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    const ai = a[i];
    const row = i * w;
    const next = row + w;
    for (let j = m - 1; j >= 0; j--) {
      if (ai === b[j]) t[row + j] = t[next + j + 1]! + 1;
      else {
        const x = t[next + j]!;
        const y = t[row + j + 1]!;
        t[row + j] = x > y ? x : y;
      }
    }
  }
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push([i++, j++]);
    else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) i++;
    else j++;
  }
  return out;
}
