/**
 * What a rule computes from one function body, kept for one diff. The bit-field rules
 * (bitfield-layout.ts, bitfield-packed.ts, bitfield-immediates.ts, bitfield-readers.ts,
 * flag-moves.ts) step through the same changed bodies under the same word keys, each deriving
 * the same per-instruction steps afresh: on sharp 0.34.4 -> 0.34.5 (issue #14's compile time)
 * a function's steps were computed up to nine times per diff. A memo is made per diff (verdicts.ts)
 * and dropped with it, never kept by a module. It keys an entry by the keying the analysis
 * depends on (a WordOf function: the register-base words, or one diff's global words), the
 * image and the function object, so the two sides of a diff, two keyings, or two diffs never
 * share an entry; a caller whose keying is another object (a WordOf built anew) only misses.
 */
import type { FunctionInfo } from '../image/types.ts';

export class BodyMemo<T> {
  private readonly kept = new Map<object, Map<Uint8Array, Map<FunctionInfo, T>>>();

  /** `compute()`'s value for body `f` of `image` under keying `key`, computed the first time only. */
  of(key: object, image: Uint8Array, f: FunctionInfo, compute: () => T): T {
    let byImage = this.kept.get(key);
    if (byImage === undefined) this.kept.set(key, (byImage = new Map()));
    let byFunction = byImage.get(image);
    if (byFunction === undefined) byImage.set(image, (byFunction = new Map()));
    if (byFunction.has(f)) return byFunction.get(f)!;
    const v = compute();
    byFunction.set(f, v);
    return v;
  }
}
