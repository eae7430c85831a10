/**
 * `applyFixups`: fixup resolution in the wasm core (its applyFixups export). The planner decides
 * where each target lives (an absolute address S); the core writes each field with its
 * formula and range check (formats/FORMAT.md, Fixup), so there is one implementation of
 * the arithmetic, and it is checked: no overflow, no write outside the block, no trap.
 */
import { err, type Result } from '../../common/errors.ts';
import type { Va } from '../../common/types.ts';
import type { FixupKind } from '../../formats/package.ts';
import { callParser, rawParser } from './wasm.ts';

/** A fixup whose target the planner has resolved (or failed to resolve) to an address. */
export interface ResolvedFixup {
  readonly kind: FixupKind;
  /** Start of the field in its container. */
  readonly offset: number;
  /** A, signed 64-bit. */
  readonly addend: bigint;
  /** S, or the planner's refusal for this fixup's target. */
  readonly symbol: Result<bigint>;
}

/** Where the container sits and how its errors are worded. */
export interface FixupContainer {
  /** Block id (for messages). */
  readonly blockId: number;
  /** The block's own bytes, or its unwind info (error wording only). */
  readonly container: 'block' | 'unwind';
  /** VA of the container's first byte: P = blockVa + offset. */
  readonly blockVa: Va;
  /** B of addr32nb (the package's unwind base). */
  readonly unwindBase: Va;
  /** L of imagerel32 (the target image's load base). */
  readonly imageBase: Va;
}

/** Record bytes per fixup (see runtime/pe-parser/src/fixups.rs). */
const RECORD_SIZE = 32;
const KIND_VALUE: Readonly<Record<FixupKind, number>> = { rel32: 1, rel8: 2, abs64: 3, 'rip-disp32': 4, addr32nb: 5, imagerel32: 6 };
const FLAG_UNRESOLVED = 1;

/**
 * Returns a copy of `bytes` with every fixup written, or the first refusal, checked in the
 * planner's order for each fixup in turn: field inside the container (PLAN_FIXUP), then
 * the target (the fixup's own `symbol` error), then the value's range (PLAN_FIXUP_RANGE).
 * Throws only on a programmer bug: an offset that is not a safe non-negative integer, an
 * addend outside int64 or an address outside uint64.
 */
export function applyFixups(bytes: Uint8Array, fixups: readonly ResolvedFixup[], where: FixupContainer): Result<Uint8Array> {
  // The list ends at the first unresolved target: the core checks that fixup's field and
  // stops, and its target error is reported only if the field was in range.
  const stop = fixups.findIndex((f) => !f.symbol.ok);
  const count = stop < 0 ? fixups.length : stop + 1;
  const records = new Uint8Array(count * RECORD_SIZE);
  const dv = new DataView(records.buffer);
  for (let i = 0; i < count; i++) {
    const f = fixups[i]!;
    if (!Number.isSafeInteger(f.offset) || f.offset < 0) throw new RangeError(`fixup ${i}: offset ${f.offset} is not a non-negative integer`);
    if (f.addend < -(1n << 63n) || f.addend >= 1n << 63n) throw new RangeError(`fixup ${i}: addend ${f.addend} is not an int64`);
    const at = i * RECORD_SIZE;
    dv.setUint8(at, KIND_VALUE[f.kind]);
    dv.setBigUint64(at + 8, BigInt(f.offset), true);
    if (f.symbol.ok) {
      if (f.symbol.value < 0n || f.symbol.value >= 1n << 64n) throw new RangeError(`fixup ${i}: target ${f.symbol.value} is not a 64-bit address`);
      dv.setBigUint64(at + 16, f.symbol.value, true);
    } else dv.setUint8(at + 1, FLAG_UNRESOLVED);
    dv.setBigInt64(at + 24, f.addend, true);
  }
  const r = callParser(() => rawParser.applyFixups(bytes, records, where.blockVa, where.unwindBase, where.imageBase, where.blockId, where.container === 'block' ? 0 : 1), (d) => d);
  if (!r.ok) return r;
  const unresolved = stop < 0 ? undefined : fixups[stop]?.symbol;
  if (unresolved !== undefined && !unresolved.ok) return err(unresolved.error.code, unresolved.error.message, unresolved.error.offset);
  return r;
}
