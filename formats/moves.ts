/**
 * What a package moves (format 2.3, FORMAT.md "Moved fixups"): the entry of each changed
 * function goes to its block, and each data block that names the old range it `replaces`
 * takes that range's places. A changed function stored as a delta copies calls to other
 * changed functions and loads from changed read-only data from its old body; the old field
 * names the old callee or item, and this table says where the package put its new one, so
 * such a field needs no fixup record (formats/implicit-fixups.ts, `moved` fields).
 * Validation keeps the ranges disjoint, so a lookup has one answer.
 */
import { upperBound } from '../common/search.ts';
import type { FixupTarget, HotpatchPackage, RvaRange } from './package.ts';

/** Old entry RVAs and old ranges, each with the block that holds its new counterpart. */
export interface Moves {
  readonly entries: ReadonlyMap<number, { readonly blockId: number; readonly offset: number }>;
  /** Sorted by RVA, disjoint. */
  readonly ranges: ReadonlyArray<RvaRange & { readonly blockId: number }>;
  /** ranges' start RVAs, for the binary search. */
  readonly starts: Float64Array;
}

const cache = new WeakMap<object, Moves>();

/** The moves of `p`: its changed functions' records and its data blocks' `replaces` (built once per package object). */
export function movesOf(p: Pick<HotpatchPackage, 'functions' | 'dataBlocks'>): Moves {
  const hit = cache.get(p);
  if (hit !== undefined) return hit;
  const m = buildMoves(p);
  cache.set(p, m);
  return m;
}

function buildMoves(p: Pick<HotpatchPackage, 'functions' | 'dataBlocks'>): Moves {
  const entries = new Map<number, { blockId: number; offset: number }>();
  for (const f of p.functions) if (f.status === 'changed' && f.oldRva !== null && !entries.has(f.oldRva)) entries.set(f.oldRva, { blockId: f.blockId, offset: f.blockOffset });
  const ranges = p.dataBlocks.flatMap((d) => (d.replaces === undefined ? [] : [{ ...d.replaces, blockId: d.id }])).sort((a, b) => a.rva - b.rva);
  return { entries, ranges, starts: Float64Array.from(ranges.map((r) => r.rva)) };
}

/** Where old RVA `t` moved: a changed function's entry first, else the data range holding it; null when nowhere. */
export function movedTarget(m: Moves, t: number): Extract<FixupTarget, { kind: 'block' }> | null {
  const e = m.entries.get(t);
  if (e !== undefined) return { kind: 'block', blockId: e.blockId, offset: e.offset };
  const i = upperBound(m.starts, t) - 1;
  const r = i >= 0 ? m.ranges[i] : undefined;
  if (r === undefined || t >= r.rva + r.length) return null;
  return { kind: 'block', blockId: r.blockId, offset: t - r.rva };
}
