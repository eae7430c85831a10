/**
 * Intra-block references in delta encoding (format 2.1, formats/intra-refs.ts): fields of a
 * changed function that point inside its own block (branches within a part, branches between
 * parts and `lea`s of its jump tables, which are fixups to the block itself, and its relative
 * jump tables) are given the bytes the old body holds at their aligned place, so copies run
 * through them, and are listed for the runtime to rebuild from the copy alignment. A
 * candidate is kept only when the runtime's rule, run here on the final ops, gives exactly
 * the NEW value (the verifier then proves the whole package again); the others stay bytes.
 */
import { asRva } from '../../common/types.ts';
import { encodeDelta } from '../../formats/delta.ts';
import type { DeltaBytes } from '../../formats/implicit-fixups.ts';
import { offsetOfRva } from '../../formats/delta-index.ts';
import { INTRA_WIDTH, intraFieldValues } from '../../formats/intra-refs.ts';
import type { DeltaOp, Fixup, IntraRefs, RvaRange } from '../../formats/package.ts';
import { gather } from '../../formats/delta-index.ts';

/** A field of a block that points inside the block (emit-function.ts lists them). */
export interface IntraCandidate {
  readonly kind: 'rel32' | 'rel8' | 'table';
  /** Offset in the block. */
  readonly offset: number;
  /** Entries (tables); 1 otherwise. */
  readonly count: number;
  /** NEW RVA of a table (null for other fields). */
  readonly newRva: number | null;
  /** OLD RVA of the table paired with it, where one is (emit-pass.ts). */
  readonly oldRva?: number;
  /** Tables: bytes from the table's start to this run of its entries (0: the whole table). */
  readonly back?: number;
}

/** A delta's base: its old ranges in order and their bytes, concatenated. */
export interface BaseBytes {
  readonly ranges: readonly RvaRange[];
  readonly bytes: Uint8Array;
}

/** The base bytes of `ranges` [start, end) of `image` (inside it: they come from OLD's own layout). */
export function baseBytesOf(image: Uint8Array, ranges: ReadonlyArray<readonly [number, number]>): BaseBytes {
  const rs: RvaRange[] = ranges.map(([s, e]) => ({ rva: asRva(s), length: e - s }));
  const bytes = gather(image, rs);
  if (bytes === null) throw new Error('a delta base outside OLD');
  return { ranges: rs, bytes };
}

/** Bytes a candidate covers. */
export const widthOf = (c: IntraCandidate): number => (c.kind === 'table' ? 4 * c.count : INTRA_WIDTH[c.kind]);

/** True for a fixup of block `selfId` to itself, relative to its own end: what a rel candidate replaces. */
function isSelfRel(f: Fixup, selfId: number): boolean {
  const w = f.kind === 'rel8' ? 1 : 4;
  return f.target.kind === 'block' && f.target.blockId === selfId && (f.kind === 'rel32' || f.kind === 'rip-disp32' || f.kind === 'rel8') && f.addend === -BigInt(w);
}

/**
 * The block's bytes with its fixups to itself completed (they do not depend on where the
 * block lies): what an intra field must rebuild. Also the offsets of those fixups.
 */
export function selfResolved(bytes: Uint8Array, fixups: readonly Fixup[], selfId: number): { truth: Uint8Array; selfAt: Set<number> } {
  const truth = bytes.slice();
  const view = new DataView(truth.buffer);
  const selfAt = new Set<number>();
  for (const f of fixups) {
    if (!isSelfRel(f, selfId) || f.target.kind !== 'block') continue;
    const v = f.target.offset + Number(f.addend) - f.offset;
    if (f.kind === 'rel8') {
      if (v < -0x80 || v > 0x7f) continue;
      view.setInt8(f.offset, v);
    } else view.setInt32(f.offset, v, true);
    selfAt.add(f.offset);
  }
  return { truth, selfAt };
}

/** Where a candidate's old counterpart lies in the base: the copy op around it (or nearest before it, for a field), else its paired old table. */
function alignedAt(ops: readonly DeltaOp[], c: IntraCandidate, base: BaseBytes): number | null {
  let at = 0;
  let shift: number | null = null;
  for (const op of ops) {
    const len = op.kind === 'copy' ? op.length : op.bytes.length;
    if (at > c.offset) break;
    if (op.kind === 'copy') {
      if (c.offset < at + len) return op.offset - at + c.offset;
      shift = op.offset - at;
    }
    at += len;
  }
  if (c.oldRva !== undefined) return offsetOfRva(base.ranges, c.oldRva);
  return c.kind === 'table' || shift === null ? null : c.offset + shift;
}

/** A delta over `base` with `ops` and intra fields `cands`: what the runtime's rule reads. */
function deltaOf(base: BaseBytes, size: number, ops: readonly DeltaOp[], cands: readonly IntraCandidate[]): DeltaBytes {
  return { kind: 'delta', base: base.ranges[0]!, baseSha256: new Uint8Array(0), size, ops, extraBase: base.ranges.slice(1), intra: intraRefsOf(cands) };
}

/** The format's lists of accepted candidates (ascending). */
export function intraRefsOf(cands: readonly IntraCandidate[]): IntraRefs {
  const sorted = [...cands].sort((a, b) => a.offset - b.offset);
  return {
    rel32: sorted.filter((c) => c.kind === 'rel32').map((c) => c.offset),
    rel8: sorted.filter((c) => c.kind === 'rel8').map((c) => c.offset),
    tables: sorted.filter((c) => c.kind === 'table').map((c) => ({ offset: c.offset, count: c.count, back: c.back ?? 0 })),
  };
}

/**
 * What of candidate `c` the runtime's rule rebuilds exactly under `d`: the candidate itself,
 * or for a table whose entries are not all right, its runs of 2 or more right entries (the
 * others stay bytes), or nothing.
 */
function rebuilt(d: DeltaBytes, base: Uint8Array, c: IntraCandidate, truth: Uint8Array): IntraCandidate[] {
  const v = intraFieldValues(d, base, c.offset, c.kind, c.count, c.back ?? 0);
  if (!v.ok) return [];
  const view = new DataView(truth.buffer, truth.byteOffset, truth.byteLength);
  const good = v.value.map((x, k) => (c.kind === 'rel8' ? view.getInt8(c.offset) : view.getInt32(c.offset + 4 * k, true)) === x);
  if (good.every((g) => g)) return [c];
  if (c.kind !== 'table') return [];
  const runs: IntraCandidate[] = [];
  for (let i = 0; i < good.length; ) {
    let j = i;
    while (j < good.length && good[j]) j++;
    if (j - i >= 2) runs.push({ ...c, offset: c.offset + 4 * i, count: j - i, back: (c.back ?? 0) + 4 * i, ...(c.oldRva === undefined ? {} : { oldRva: c.oldRva + 4 * i }) });
    i = Math.max(j, i + 1);
  }
  return runs;
}

/**
 * The intra candidates that survive, with the target and copy/literal ops that hold the old
 * bytes at their places: rounds of (place old bytes, encode, keep what the rule rebuilds
 * under the final ops `finalOps(raw)`) until the set is stable; none when it does not settle.
 */
export function withIntraFields(base: BaseBytes, target: Uint8Array, ops: DeltaOp[], truth: Uint8Array, cands: readonly IntraCandidate[], finalOps: (raw: DeltaOp[]) => DeltaOp[]): { target: Uint8Array; ops: DeltaOp[]; accepted: IntraCandidate[] } {
  let set = cands.filter((c) => c.offset + widthOf(c) <= target.length);
  let prevOps = ops;
  for (let round = 0; round < 6 && set.length > 0; round++) {
    const t = target.slice();
    const placed: IntraCandidate[] = [];
    for (const c of set) {
      const p = alignedAt(prevOps, c, base);
      const w = widthOf(c);
      if (p === null || p < 0 || p + w > base.bytes.length) continue;
      t.set(base.bytes.subarray(p, p + w), c.offset);
      placed.push(c);
    }
    const raw = encodeDelta(base.bytes, t);
    const d = deltaOf(base, t.length, finalOps(raw), placed);
    const kept = placed.flatMap((c) => rebuilt(d, base.bytes, c, truth));
    if (kept.length === set.length && kept.every((c, i) => c === set[i])) return { target: t, ops: raw, accepted: kept };
    set = kept;
    prevOps = raw;
  }
  return { target, ops, accepted: [] };
}
