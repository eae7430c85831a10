/**
 * Lookups over a delta that implicit fixups (format 1.2) and intra references (2.1) make once
 * per field: which op writes a result offset, where a base offset lands in the result, and
 * which old-image range (base, then extra_base, concatenated) a base offset or RVA is in.
 * The runtime, the verifier and the encoder all use these. A scan of the ops per field would cost fields x ops, which a hostile package can
 * push to 10^12 within the size limits; these cost O(log ops) per field after O(ops log ops)
 * once per ops array.
 *
 * Ops arrays are never changed once built (decoded packages, the encoder's results), so the
 * index is kept per array (a WeakMap); a guard on the length and the end ops rebuilds it if an
 * array was changed anyway.
 */
import { upperBound } from '../common/search.ts';
import { opLength } from './delta.ts';
import type { StoredOp, RvaRange } from './package.ts';

interface OpIndex {
  readonly ops: readonly StoredOp[];
  readonly first: StoredOp | undefined;
  readonly last: StoredOp | undefined;
  /** Result offset at which op i starts (n + 1 entries: the last is the result's size). */
  readonly at: Float64Array;
  /** Elementary base segments [coords[j], coords[j+1]) and the first op (in op order) copying or adding over each, or -1. */
  readonly coords: Float64Array;
  readonly firstOp: Int32Array;
  /** Base offset at which some copy/add op ends -> the first such op (in op order). */
  readonly endOp: ReadonlyMap<number, number>;
  /** Per op: base offset minus result offset of the last copy, add or sealed add at or before it (0 before the first): where a placed field lies (2.4). */
  readonly shift: Float64Array;
}

const cache = new WeakMap<readonly StoredOp[], OpIndex>();


function indexOf(ops: readonly StoredOp[]): OpIndex {
  const hit = cache.get(ops);
  if (hit !== undefined && hit.ops.length === ops.length && hit.first === ops[0] && hit.last === ops[ops.length - 1]) return hit;
  const at = new Float64Array(ops.length + 1);
  const spans: Array<{ start: number; end: number; op: number }> = [];
  const endOp = new Map<number, number>();
  const shift = new Float64Array(ops.length);
  ops.forEach((op, i) => {
    const len = opLength(op);
    at[i + 1] = at[i]! + len;
    shift[i] = i > 0 ? shift[i - 1]! : 0;
    if (op.kind === 'literal' || op.kind === 'sealed-literal') return;
    shift[i] = op.offset - at[i]!;
    spans.push({ start: op.offset, end: op.offset + len, op: i });
    if (!endOp.has(op.offset + len)) endOp.set(op.offset + len, i);
  });
  const coords = Float64Array.from(new Set(spans.flatMap((s) => [s.start, s.end]))).sort();
  const firstOp = new Int32Array(coords.length).fill(-1);
  spans.sort((a, b) => a.start - b.start);
  // Sweep the segments left to right with a min-heap (by op index) of the spans begun so far;
  // a span ended at or before a segment can cover no later one, so it is dropped for good.
  const heap: Array<{ end: number; op: number }> = [];
  let next = 0;
  for (let j = 0; j < coords.length; j++) {
    const c = coords[j]!;
    while (next < spans.length && spans[next]!.start <= c) heapPush(heap, spans[next++]!);
    while (heap.length > 0 && heap[0]!.end <= c) heapPop(heap);
    if (heap.length > 0) firstOp[j] = heap[0]!.op;
  }
  const index: OpIndex = { ops, first: ops[0], last: ops[ops.length - 1], at, coords, firstOp, endOp, shift };
  cache.set(ops, index);
  return index;
}


/**
 * The base offset the `width` bytes at result `offset` are copied from: they must lie inside
 * one copy op, or one add op that adds 0 to each of them; null otherwise.
 */
export function copySource(ops: readonly StoredOp[], offset: number, width: number): number | null {
  const ix = indexOf(ops);
  const i = upperBound(ix.at, offset) - 1;
  if (i < 0 || i >= ops.length) return null;
  const op = ops[i]!;
  const start = ix.at[i]!;
  if (op.kind === 'literal' || op.kind === 'sealed-literal' || offset + width > start + opLength(op)) return null;
  // An add op copies the field when it adds nothing to any of its bytes. A sealed add's (2.2)
  // bytes are not known before unsealPackage, which checks every field again once they are.
  if (op.kind === 'add' && op.bytes.subarray(offset - start, offset - start + width).some((x) => x !== 0)) return null;
  return op.offset + (offset - start);
}

/**
 * The base offset result `offset` is placed at (format 2.4, placed implicit fields): its
 * source when a copy, add or sealed add writes it; in a literal, where the last copy or add
 * before it leaves off plus the literal bytes since (the alignment op columns' gaps count
 * from, FORMAT.md "Op columns"); 0-based before any. Null outside the result.
 */
export function placedSource(ops: readonly StoredOp[], offset: number): number | null {
  const ix = indexOf(ops);
  const i = upperBound(ix.at, offset) - 1;
  if (i < 0 || i >= ops.length) return null;
  return offset + ix.shift[i]!;
}

/**
 * The RVA base offset `off` stands for (2.4, placed fields): in the range that holds it, or,
 * past the last range, that range continued; null for a negative offset or no range.
 */
export function placedRva(ranges: readonly RvaRange[], off: number): number | null {
  if (off < 0 || ranges.length === 0) return null;
  const at = rangeAt(ranges, off);
  if (at !== null) return at.rva;
  const end = ranges.reduce((n, r) => n + r.length, 0);
  const last = ranges[ranges.length - 1]!;
  return (last.rva as number) + last.length + (off - end);
}

/** Where base offset `q` lands in the result: the first copy or add op holding it, else the first ending at it; null when none. */
export function mapBaseOffset(ops: readonly StoredOp[], q: number): number | null {
  const ix = indexOf(ops);
  const j = upperBound(ix.coords, q) - 1;
  const i = j < 0 ? -1 : ix.firstOp[j]!;
  if (i >= 0) {
    const op = ops[i]! as Extract<StoredOp, { offset: number }>;
    return ix.at[i]! + q - op.offset;
  }
  const e = ix.endOp.get(q);
  return e === undefined ? null : ix.at[e + 1]!;
}

function heapPush(h: Array<{ end: number; op: number }>, x: { end: number; op: number }): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.op <= h[i]!.op) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

function heapPop(h: Array<{ end: number; op: number }>): void {
  const last = h.pop()!;
  if (h.length === 0) return;
  h[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l]!.op < h[m]!.op) m = l;
    if (r < h.length && h[r]!.op < h[m]!.op) m = r;
    if (m === i) return;
    [h[m], h[i]] = [h[i]!, h[m]!];
    i = m;
  }
}

/** The range index, its start in the concatenated base and the RVA of base offset `off`, or null past the end. */
export function rangeAt(ranges: readonly RvaRange[], off: number): { index: number; start: number; rva: number } | null {
  let start = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (off < start + r.length) return { index: i, start, rva: (r.rva as number) + off - start };
    start += r.length;
  }
  return null;
}

/** The RVA of the `width` bytes at base offset `off` when one range holds them all, else null. */
export function rvaInOneRange(ranges: readonly RvaRange[], off: number, width: number): number | null {
  const at = rangeAt(ranges, off);
  return at === null || off + width > at.start + ranges[at.index]!.length ? null : at.rva;
}

/** The base offset of `rva` in the first range that holds it, or null. */
export function offsetOfRva(ranges: readonly RvaRange[], rva: number): number | null {
  let start = 0;
  for (const r of ranges) {
    if (rva >= r.rva && rva < (r.rva as number) + r.length) return start + rva - r.rva;
    start += r.length;
  }
  return null;
}

/** Concatenated bytes of `ranges` from `bytes` (bounds-checked): a delta's base ranges, the relied ranges, a sealed frame's dictionary. */
export function gather(bytes: Uint8Array, ranges: readonly { readonly rva: number; readonly length: number }[]): Uint8Array | null {
  let n = 0;
  for (const r of ranges) {
    if (r.rva + r.length > bytes.length) return null;
    n += r.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const r of ranges) {
    out.set(bytes.subarray(r.rva, r.rva + r.length), at);
    at += r.length;
  }
  return out;
}
