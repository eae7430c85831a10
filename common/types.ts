/**
 * Address kinds, kept apart by the type checker. A PE has three coordinate systems and
 * mixing them is the classic bug: an RVA (offset from the image base), a VA (an absolute
 * address in a process, 64-bit, so a bigint) and a file offset.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Relative virtual address: offset from the image base, 32-bit unsigned. */
export type Rva = Brand<number, 'Rva'>;
/** Virtual address in a process: 64-bit, so a bigint. */
export type Va = Brand<bigint, 'Va'>;
/** Byte offset into the PE file on disk. */
export type FileOffset = Brand<number, 'FileOffset'>;

const U32_MAX = 0xffff_ffff;

/** Brands a number as an RVA; throws (programmer bug) when it is not a u32. */
export function asRva(n: number): Rva {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) throw new RangeError(`not an RVA: ${n}`);
  return n as Rva;
}

/**
 * `r + delta` as an RVA, unchecked: for arithmetic inside an image whose bounds were checked
 * where the numbers came from (a section, a decoded instruction, a parsed table), so the sum
 * stays an RVA without a range test on the hot paths. A value that may fall outside the image
 * (a decoded branch target, a field read from the file) stays a plain number until it is
 * checked, and goes through `asRva` (which throws) only where out-of-range is a bug.
 */
export function rvaAdd(r: Rva, delta: number): Rva {
  return (r + delta) as Rva;
}

/** Brands a number as a file offset; throws (programmer bug) when it is not a safe non-negative integer. */
export function asFileOffset(n: number): FileOffset {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a file offset: ${n}`);
  return n as FileOffset;
}

/** Brands a bigint as a VA; throws (programmer bug) when it is not a u64. */
export function asVa(n: bigint): Va {
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new RangeError(`not a VA: ${n}`);
  return n as Va;
}

/** VA = base + rva, checked to stay within 64 bits. */
export function vaOf(base: Va, rva: Rva): Va {
  return asVa(base + BigInt(rva));
}

/** `0x` + lower-case hex, the form every report and JSON output uses for addresses. */
export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
