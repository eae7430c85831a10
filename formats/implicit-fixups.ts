/**
 * Implicit fixups (format 1.2): a changed function stored as a delta against its old body
 * copies most of its references from that body, and most of them still mean what they meant
 * there: a call to an unchanged old function, a load from an old global, a vtable slot
 * holding an old function. Such a field needs no fixup record of its own: it is named by its
 * offset alone, and its target is whatever the old field at the copy's source points at.
 * `impliedFixups` turns those offsets back into ordinary image fixups, so the planner
 * (runtime/plan) and the verifier's paper image (compiler/verify) write them with the one
 * fixup formula (runtime/pe/apply-fixups.ts) and both derive the same bytes.
 *
 * - rel32: the old field holds v = S + A - P_old, so S + A = P_old + v; the implied fixup is
 *   `rel32` to image RVA (field RVA + 4 + v) with addend -4 (for a branch, S is its target).
 * - abs64: the old field holds S + A (at the preferred ImageBase); the implied fixup is
 *   `abs64` to image RVA (value - ImageBase) with addend 0.
 *
 * Moved fields (formats/moves.ts): the old target moved with the package (2.3 relative, 2.5
 * absolute `moved64`: an old pointer at a changed function's entry or into replaced data); the
 * implied fixup targets the block and offset it moved to (rel32 with addend -4, abs64 with 0).
 *
 * Placed fields (2.4): a reference of new code (a literal op) or of an edited instruction (an
 * add op that changes the field) is read the same way from the delta's result, as if it lay at
 * its placed source in OLD (delta-index.ts placedSource: the alignment of the copy or add
 * around or before it). The compiler writes such a field as that old place would hold it, so
 * only its offset is stored, as for a copied one.
 * Pure; reads only the delta's result, made from base bytes the caller has checked (the relied
 * hash, or the base's own SHA-256 before 2.1).
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { Rva } from '../common/types.ts';
import { copySource, placedRva, placedSource, rvaInOneRange } from './delta-index.ts';
import { movedTarget, type Moves } from './moves.ts';
import type { BlockBytes, Fixup, ImplicitFixups } from './package.ts';

/** A delta block (the only storage that can hold implicit fixups). */
export type DeltaBytes = Extract<BlockBytes, { kind: 'delta' }>;

/** Bytes of each implicit field. */
export const IMPLICIT_WIDTH = { rel32: 4, abs64: 8, moved: 4, moved64: 8 } as const;

/** Kinds of implicit field: kept old target (rel32, abs64), or moved old target (formats/moves.ts; 2.3 relative, 2.5 absolute). */
export type ImplicitKind = keyof typeof IMPLICIT_WIDTH;

/** The implicit fields of a delta as [offset, width, kind] spans, sorted by offset. */
export function implicitSpans(implicit: ImplicitFixups | undefined): Array<readonly [number, number, ImplicitKind]> {
  if (implicit === undefined) return [];
  const spans: Array<readonly [number, number, ImplicitKind]> = [
    ...implicit.rel32.map((o) => [o, IMPLICIT_WIDTH.rel32, 'rel32'] as const),
    ...implicit.abs64.map((o) => [o, IMPLICIT_WIDTH.abs64, 'abs64'] as const),
    ...(implicit.moved ?? []).map((o) => [o, IMPLICIT_WIDTH.moved, 'moved'] as const),
    ...(implicit.moved64 ?? []).map((o) => [o, IMPLICIT_WIDTH.moved64, 'moved64'] as const),
  ];
  return spans.sort((a, b) => a[0] - b[0]);
}

/** True when the delta carries at least one implicit fixup. */
export function hasImplicit(b: BlockBytes): boolean {
  return b.kind === 'delta' && b.implicit !== undefined && b.implicit.rel32.length + b.implicit.abs64.length + (b.implicit.moved?.length ?? 0) + (b.implicit.moved64?.length ?? 0) > 0;
}

/**
 * Checks what needs no image (the loader runs it in validation): every field inside the
 * result, fields disjoint. Since 2.4 a field need not be copied (placed fields, FORMAT.md
 * "Implicit fixups"); a 2.3 reader refuses one that is not. PKG_INVALID names the first bad field.
 */
export function checkImplicitFixups(d: DeltaBytes, path: string): Result<void> {
  let end = 0;
  for (const [o, w, kind] of implicitSpans(d.implicit)) {
    if (o < end) return err('PKG_INVALID', `${path}.implicit: ${kind} field at ${o} overlaps the previous implicit field`);
    if (o + w > d.size) return err('PKG_INVALID', `${path}.implicit: ${kind} field at ${o} + ${w} bytes is outside the ${d.size}-byte block`);
    end = o + w;
  }
  return ok(undefined);
}

/**
 * The old-image RVA implicit field `o` (`w` bytes) of `d` stands at: a copied field's source
 * (inside one base range, else PKG_INVALID as since 1.2), any other field's placed source
 * (2.4: delta-index.ts placedSource, placedRva).
 */
function fieldRvaOf(d: DeltaBytes, o: number, w: number, kind: ImplicitKind, path: string): Result<number> {
  const ranges = [d.base, ...(d.extraBase ?? [])];
  const src = copySource(d.ops, o, w);
  if (src !== null) {
    const r = rvaInOneRange(ranges, src, w);
    return r === null ? err('PKG_INVALID', `${path}.implicit: ${kind} field at ${o} is copied across base ranges`) : ok(r);
  }
  const placed = placedSource(d.ops, o);
  const r = placed === null ? null : placedRva(ranges, placed);
  return r === null ? err('PKG_INVALID', `${path}.implicit: ${kind} field at ${o} has no place in the base`) : ok(r);
}

/**
 * The image fixups the implicit fields of `d` stand for, read from `result` (the delta's
 * bytes as its ops give them, before any fixup; a copied field there holds the old field of
 * the hash-checked base, image at its preferred `imageBase`). PKG_INVALID when a field
 * copied across base ranges or the old field points outside the image (`sizeOfImage`).
 */
export function impliedFixups(d: DeltaBytes, result: Uint8Array, imageBase: bigint, sizeOfImage: number, path = 'delta', moves?: Moves): Result<Fixup[]> {
  const checked = checkImplicitFixups(d, path);
  if (!checked.ok) return checked;
  if (result.length !== d.size) return err('PKG_INVALID', `${path}.implicit: ${result.length} result bytes, declared ${d.size}`);
  const out: Fixup[] = [];
  const view = new DataView(result.buffer, result.byteOffset, result.byteLength);
  for (const [o, w, kind] of implicitSpans(d.implicit)) {
    // The field's RVA: its source (1.2, a copy) or its place (2.4) in the base ranges.
    const at = fieldRvaOf(d, o, w, kind, path);
    if (!at.ok) return at;
    const fieldRva = at.value;
    const target = kind !== 'abs64' && kind !== 'moved64' ? fieldRva + 4 + view.getInt32(o, true) : view.getBigUint64(o, true) - imageBase;
    if (kind === 'moved64') {
      // 2.5: the same for an absolute field, whose old value is the old target's address at the preferred base.
      const t = typeof target === 'bigint' && target >= 0n && target < BigInt(sizeOfImage) ? Number(target) : -1;
      const to = moves === undefined || t < 0 ? null : movedTarget(moves, t);
      if (to === null) return err('PKG_INVALID', `${path}.implicit: the moved abs64 field at ${o} (old RVA 0x${fieldRva.toString(16)}) points at 0x${target.toString(16)}, which the package does not move`);
      out.push({ kind: 'abs64', offset: o, target: to, addend: 0n });
      continue;
    }
    if (kind === 'moved') {
      // 2.3: the old target moved with the package (formats/moves.ts); anything else is not a moved field.
      const to = moves === undefined || typeof target !== 'number' ? null : movedTarget(moves, target);
      if (to === null) return err('PKG_INVALID', `${path}.implicit: the moved field at ${o} (old RVA 0x${fieldRva.toString(16)}) points at 0x${target.toString(16)}, which the package does not move`);
      out.push({ kind: 'rel32', offset: o, target: to, addend: -4n });
      continue;
    }
    const rva = typeof target === 'bigint' ? (target >= 0n && target < BigInt(sizeOfImage) ? Number(target) : -1) : target;
    if (rva < 0 || rva >= sizeOfImage) {
      return err('PKG_INVALID', `${path}.implicit: the ${kind} field at ${o} (old RVA 0x${fieldRva.toString(16)}) points outside the image`);
    }
    out.push({ kind, offset: o, target: { kind: 'image', rva: rva as Rva }, addend: kind === 'rel32' ? -4n : 0n });
  }
  return ok(out);
}
