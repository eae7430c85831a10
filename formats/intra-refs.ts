/**
 * Intra-block references (format 2.1): fields of a delta's result that point inside the
 * result itself, rebuilt from the alignment the copy ops define, the way Zucchini treats
 * references whose targets correspond under the alignment as equal. A changed function keeps
 * most of its branches, but every branch across an insertion or deletion changes its
 * displacement, and every jump table entry past one changes its value; stored as bytes, each
 * such field breaks a copy. Named here by offset alone, the field is copied from the old body
 * and rewritten after the ops run:
 *
 * - rel32 / rel8 (relative to the field's end): the old field at the copy's source holds v;
 *   the old target is RVA(source end) + v; its base offset q (the first base range holding
 *   it) maps to the result through the first copy or add op whose source holds q (else the
 *   first that ends at q); the new field is mapped(q) - (offset + width).
 * - table (a run of count 4-byte entries relative to the table's start, `back` bytes before
 *   the run): the whole run lies inside one op; entry k's old target is RVA(run source) -
 *   back + v_k, mapped the same way; the new entry is mapped - (offset - back).
 *
 * The base is `base` followed by `extraBase` (old jump tables live in .rdata, away from the
 * old body); copy and add offsets address that concatenation. Pure; reads only base bytes the
 * caller has checked (relied ranges and base hash).
 */
import { err, ok, type Result } from '../common/errors.ts';
import { applyDelta } from './delta.ts';
import { copySource, mapBaseOffset, offsetOfRva, rvaInOneRange } from './delta-index.ts';
import { implicitSpans, type DeltaBytes } from './implicit-fixups.ts';
import type { IntraRefs, RvaRange } from './package.ts';

/** Widths of the relative intra fields. */
export const INTRA_WIDTH = { rel32: 4, rel8: 1 } as const;

/** The old-image ranges a delta reads, in the order its offsets address them. */
export function baseRanges(d: DeltaBytes): RvaRange[] {
  return [d.base, ...(d.extraBase ?? [])];
}

/** Bytes of base a delta's offsets address (all its ranges). */
export function baseLength(d: DeltaBytes): number {
  return baseRanges(d).reduce((n, r) => n + r.length, 0);
}

/** True when the delta uses anything of format 2.1 (extra base ranges or intra fields). */
export function hasIntra(d: DeltaBytes): boolean {
  const i = d.intra;
  return (d.extraBase?.length ?? 0) > 0 || (i !== undefined && i.rel32.length + i.rel8.length + i.tables.length > 0);
}

/** The intra fields as [offset, width, kind] spans sorted by offset (a table is one span). */
export function intraSpans(intra: IntraRefs | undefined): Array<readonly [number, number, 'rel32' | 'rel8' | 'table']> {
  if (intra === undefined) return [];
  const spans: Array<readonly [number, number, 'rel32' | 'rel8' | 'table']> = [
    ...intra.rel32.map((o) => [o, INTRA_WIDTH.rel32, 'rel32'] as const),
    ...intra.rel8.map((o) => [o, INTRA_WIDTH.rel8, 'rel8'] as const),
    ...intra.tables.map((t) => [t.offset, 4 * t.count, 'table'] as const),
  ];
  return spans.sort((a, b) => a[0] - b[0]);
}

/**
 * Checks what needs no image (the loader runs it in validation): every intra field and table
 * inside the result, inside one copy op (or an add op adding 0 to it) whose source lies in one
 * base range, tables non-empty, no field overlapping another intra or implicit field.
 * PKG_INVALID names the first bad field.
 */
export function checkIntraRefs(d: DeltaBytes, path: string): Result<void> {
  const ranges = baseRanges(d);
  for (const t of d.intra?.tables ?? []) {
    if (t.count === 0) return err('PKG_INVALID', `${path}.intra: table at ${t.offset} has no entries`);
    if (t.back > t.offset) return err('PKG_INVALID', `${path}.intra: table at ${t.offset} starts ${t.back} bytes before the block`);
  }
  const spans: Array<readonly [number, number, string]> = [...intraSpans(d.intra), ...implicitSpans(d.implicit).map(([o, w, k]) => [o, w, `implicit ${k}`] as const)];
  spans.sort((a, b) => a[0] - b[0]);
  let end = 0;
  for (const [o, w, kind] of spans) {
    if (o < end) return err('PKG_INVALID', `${path}.intra: ${kind} field at ${o} overlaps the previous field`);
    end = o + w;
    if (kind.startsWith('implicit')) continue;
    if (o + w > d.size) return err('PKG_INVALID', `${path}.intra: ${kind} field at ${o} + ${w} bytes is outside the ${d.size}-byte block`);
    const src = copySource(d.ops, o, w);
    if (src === null) return err('PKG_INVALID', `${path}.intra: ${kind} field at ${o} is not inside one copy op`);
    if (rvaInOneRange(ranges, src, w) === null) return err('PKG_INVALID', `${path}.intra: ${kind} field at ${o} is copied across base ranges`);
  }
  return ok(undefined);
}

/** The new value of one field: the old target found from the base, mapped into the result. */
function remap(d: DeltaBytes, ranges: readonly RvaRange[], view: DataView, anchorRva: number, vOff: number, w: number, newAnchor: number, what: string): Result<number> {
  const v = w === 1 ? view.getInt8(vOff) : view.getInt32(vOff, true);
  const q = offsetOfRva(ranges, anchorRva + v);
  if (q === null) return err('PKG_INVALID', `${what}: the old field at base offset ${vOff} points at RVA 0x${(anchorRva + v).toString(16)}, outside the delta's base`);
  const mapped = mapBaseOffset(d.ops, q);
  if (mapped === null) return err('PKG_INVALID', `${what}: the old target at base offset ${q} is not copied into the result (no mapping)`);
  const nv = mapped - newAnchor;
  const fits = w === 1 ? nv >= -0x80 && nv <= 0x7f : nv >= -0x8000_0000 && nv <= 0x7fff_ffff;
  if (!fits) return err('PKG_INVALID', `${what}: the new distance ${nv} does not fit in ${w} byte(s)`);
  return ok(nv);
}

/**
 * The new values of one intra field (one value; a table's entries), by the rule in the module
 * comment, from `base` (every base range, concatenated). The field's structure (inside one
 * op, inside one base range) must hold: checkIntraRefs, or the encoder's own check.
 */
export function intraFieldValues(d: DeltaBytes, base: Uint8Array, offset: number, kind: 'rel32' | 'rel8' | 'table', count = 1, back = 0, path = 'delta'): Result<number[]> {
  const ranges = baseRanges(d);
  const w = kind === 'table' ? 4 * count : INTRA_WIDTH[kind];
  const what = `${path}.intra: ${kind} field at ${offset}`;
  const src = copySource(d.ops, offset, w);
  const fieldRva = src === null ? null : rvaInOneRange(ranges, src, w);
  if (src === null || fieldRva === null || src + w > base.length) return err('PKG_INVALID', `${what} is not copied whole from one base range`);
  const view = new DataView(base.buffer, base.byteOffset, base.byteLength);
  if (kind !== 'table') {
    const nv = remap(d, ranges, view, fieldRva + w, src, w, offset + w, what);
    return nv.ok ? ok([nv.value]) : nv;
  }
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const nv = remap(d, ranges, view, fieldRva - back, src + 4 * k, 4, offset - back, `${what}, entry ${k}`);
    if (!nv.ok) return nv;
    out.push(nv.value);
  }
  return ok(out);
}

/**
 * Rewrites the intra fields of `out` (the ops' result over `base`, all base ranges
 * concatenated) in place. PKG_INVALID when a field's structure is wrong (checkIntraRefs), an
 * old target lies outside the base, maps nowhere, or the new distance does not fit.
 */
export function rewriteIntraRefs(d: DeltaBytes, base: Uint8Array, out: Uint8Array, path = 'delta'): Result<void> {
  const checked = checkIntraRefs(d, path);
  if (!checked.ok) return checked;
  if (d.intra === undefined) return ok(undefined);
  const outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const backOf = new Map(d.intra.tables.map((t) => [t.offset, t.back] as const));
  for (const [o, w, kind] of intraSpans(d.intra)) {
    const values = intraFieldValues(d, base, o, kind, kind === 'table' ? w / 4 : 1, backOf.get(o) ?? 0, path);
    if (!values.ok) return values;
    values.value.forEach((v, k) => (kind === 'rel8' ? outView.setInt8(o, v) : outView.setInt32(o + 4 * k, v, true)));
  }
  return ok(undefined);
}

/**
 * The bytes of a delta block before fixups: the ops applied to `base` (every base range,
 * concatenated), then the intra fields rewritten. What the planner and the verifier both use.
 */
export function materialiseDelta(d: DeltaBytes, base: Uint8Array, path = 'delta'): Result<Uint8Array> {
  const bytes = applyDelta(base, d.ops, d.size);
  if (!bytes.ok) return bytes;
  const r = rewriteIntraRefs(d, base, bytes.value, path);
  return r.ok ? bytes : r;
}
