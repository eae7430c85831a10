/**
 * Bounded little-endian reads over an image for the handler-data parsers: every read says
 * null past the end instead of reading undefined bytes, so hostile data is refused.
 */

/** The u32 at `at`, or null when it does not lie wholly inside `image`. */
export function readU32(image: Uint8Array, at: number): number | null {
  if (!Number.isInteger(at) || at < 0 || at + 4 > image.length) return null;
  return (image[at]! | (image[at + 1]! << 8) | (image[at + 2]! << 16) | (image[at + 3]! << 24)) >>> 0;
}

/** The i32 at `at`, or null when it does not lie wholly inside `image`. */
export function readI32(image: Uint8Array, at: number): number | null {
  const v = readU32(image, at);
  return v === null ? null : v | 0;
}

/** True when `rva` lies in one of `ranges`, or (with `orEnd`) is the end of one. */
export function inRanges(ranges: ReadonlyArray<{ readonly start: number; readonly end: number }>, rva: number, orEnd = false): boolean {
  return ranges.some((r) => (rva >= r.start && rva < r.end) || (orEnd && rva === r.end));
}
