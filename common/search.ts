/** Binary searches over sorted numbers (offsets, RVAs). */

/** First index in the sorted `arr` whose value is >= `v` (arr.length when none). */
export function lowerBound(arr: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in the sorted `arr` whose value is > `v` (arr.length when none); minus one, the last value <= `v`. */
export function upperBound(arr: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
