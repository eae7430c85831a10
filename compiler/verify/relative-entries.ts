/**
 * Verification of self-relative tables (compiler/disasm/relative-tables.ts) by meaning.
 *
 * Comparing a carried table's bytes with NEW's says nothing: a correct copy at another
 * address has other bytes, and a wrong one (entries not re-based) has the same bytes as NEW.
 * So each entry is re-derived from the patched image: read at the table's image as the code
 * reads it (int32, sign-extended, plus the table's address) and handed to `check`, which
 * must prove the address is the image of NEW's target. Returns the byte length the entries
 * cover (the caller compares the rest as usual), or -1 when the table's extent is unproven.
 */
import type { RelativeTable } from '../disasm/relative-tables.ts';

export function relativeEntryChecks(t: RelativeTable, got: Uint8Array, startA: bigint, len: number, check: (target: number, A: bigint, entry: number) => void): number {
  if (t.count === null || 4 * t.count > len) return -1;
  const dv = new DataView(got.buffer, got.byteOffset, got.byteLength);
  for (let i = 0; i < t.count; i++) check(t.targets[i]!, startA + BigInt(dv.getInt32(4 * i, true)), i);
  return 4 * t.count;
}
