/**
 * Summary statistics the report uses everywhere: a timing is a median with its min, max and
 * sample count; a group of ratios is summarised by its geometric mean (ratios multiply, so
 * the arithmetic mean would let one large pair dominate).
 */

/** A timing in milliseconds: median of `n` samples, with the extremes. */
export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly n: number;
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median, min and max of timing samples in ms. */
export function summarizeTimes(samplesMs: readonly number[]): Timing {
  return { medianMs: medianOf(samplesMs), minMs: Math.min(...samplesMs), maxMs: Math.max(...samplesMs), n: samplesMs.length };
}

/** Geometric mean of positive numbers; null for an empty list (nothing to summarise). */
export function geometricMean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let logSum = 0;
  for (const x of xs) {
    if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`geometric mean of a non-positive or non-finite value: ${x}`);
    logSum += Math.log(x);
  }
  return Math.exp(logSum / xs.length);
}

/** `a / b` when both are known and b is non-zero, else null. */
export function ratioOf(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** A duration for people: µs below 1 ms, ms below 10 s, else s. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 10_000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `median (min..max, n)` for a timing. */
export function formatTiming(t: Timing): string {
  return t.n === 1 ? `${formatMs(t.medianMs)} (n=1)` : `${formatMs(t.medianMs)} (${formatMs(t.minMs)}..${formatMs(t.maxMs)}, n=${t.n})`;
}

/** A byte count for people (B, KiB, MiB). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** A ratio for people: 3 significant digits. */
export function formatRatio(r: number | null): string {
  if (r === null) return '-';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(r >= 1 ? 2 : 3);
}
