/**
 * Where a function's parts (its .pdata ranges: the main body and chained fragments) go in
 * its code block. MSVC and LLVM split functions into parts (hot/cold splitting, or one
 * RUNTIME_FUNCTION per shrink-wrapped region) that often sit side by side and branch to
 * each other with `jmp short`/`jcc short`; a rel8 cannot be re-targeted beyond ±127 bytes,
 * so parts linked by one keep their original relative layout (what lies between them is
 * filled with int3), and so do adjacent parts (execution falls from one into the next).
 * Parts that nothing links are packed 16-aligned after them.
 */
import type { FunctionInfo } from '../image/types.ts';

/** Largest span of parts kept at their original distances (beyond this: refused). */
const MAX_CLUSTER_SPAN = 1 << 20;

/** Half-open range of byte offsets [start, end) in a code block. */
export interface BlockRange {
  readonly start: number;
  readonly end: number;
}

/** Parts laid out in one code block. */
export interface PartsLayout {
  /** Block offset of each range (same order as `f.ranges`); ranges[0] is at 0. */
  readonly offsets: readonly number[];
  /** Bytes the parts take, gaps included. */
  readonly size: number;
  /** Block byte ranges between parts kept at their distances (to be filled with int3). */
  readonly fills: readonly BlockRange[];
  /** Why the layout cannot keep every short branch between parts in reach, or null. */
  readonly problem: string | null;
}

/** Lays out `f`'s ranges: clusters linked by rel8 branches keep their relative layout. */
export function layoutParts(f: FunctionInfo): PartsLayout {
  const ranges = f.ranges;
  const n = ranges.length;
  const rangeOf = (rva: number): number => ranges.findIndex((r) => rva >= r.start && rva < r.end);
  // Union-find over ranges: linked by a short branch from one to another.
  const parent = ranges.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number): void => {
    const x = find(a);
    const y = find(b);
    if (x !== y) parent[Math.max(x, y)] = Math.min(x, y);
  };
  let linked = false;
  // Adjacent parts (one RUNTIME_FUNCTION per shrink-wrapped region) fall through into each
  // other: they stay adjacent.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j && ranges[i]!.end === ranges[j]!.start) {
        union(i, j);
        linked = true;
      }
    }
  }
  for (const r of f.decoded.refs) {
    if (r.kind !== 'rel8') continue;
    const a = rangeOf(r.insnRva);
    const b = rangeOf(r.target);
    if (a >= 0 && b >= 0 && a !== b) {
      union(a, b);
      linked = true;
    }
  }
  if (!linked || n === 1) return packed(f);
  // A cluster is an RVA interval: a part lying inside another cluster's span joins it (it
  // cannot be moved out of the way of parts kept at their distances).
  for (let changed = true; changed; ) {
    changed = false;
    const span = new Map<number, { lo: number; hi: number }>();
    for (let i = 0; i < n; i++) {
      const c = find(i);
      const s = span.get(c);
      const r = ranges[i]!;
      if (s === undefined) span.set(c, { lo: r.start, hi: r.end });
      else span.set(c, { lo: Math.min(s.lo, r.start), hi: Math.max(s.hi, r.end) });
    }
    for (let i = 0; i < n; i++) {
      for (const [c, s] of span) {
        const r = ranges[i]!;
        if (find(i) !== c && r.start < s.hi && r.end > s.lo) {
          union(i, c);
          changed = true;
        }
      }
    }
  }
  const lo = new Map<number, number>();
  const hi = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = find(i);
    const r = ranges[i]!;
    lo.set(c, Math.min(lo.get(c) ?? r.start, r.start));
    hi.set(c, Math.max(hi.get(c) ?? r.end, r.end));
  }
  const main = find(0);
  const fail = (problem: string): PartsLayout => ({ ...packed(f), problem });
  // The entry stays at block offset 0 (redirects and function records point there).
  if (lo.get(main)! < ranges[0]!.start) return fail(`a part linked to the entry's part by a short branch lies below the entry (0x${lo.get(main)!.toString(16)})`);
  for (const [c, l] of lo) if (hi.get(c)! - l > MAX_CLUSTER_SPAN) return fail(`parts linked by short branches span more than ${MAX_CLUSTER_SPAN} bytes`);
  const offsets = new Array<number>(n).fill(-1);
  const fills: BlockRange[] = [];
  let at = 0;
  const place = (c: number): void => {
    const base = c === main ? 0 : (at + 15) & ~15;
    const l = c === main ? ranges[0]!.start : lo.get(c)!;
    const members = ranges.map((r, i) => ({ r, i })).filter((x) => find(x.i) === c).sort((a, b) => a.r.start - b.r.start);
    let prevEnd = l;
    for (const { r, i } of members) {
      if (r.start > prevEnd) fills.push({ start: base + (prevEnd - l), end: base + (r.start - l) });
      offsets[i] = base + (r.start - l);
      prevEnd = Math.max(prevEnd, r.end);
    }
    at = base + (hi.get(c)! - l);
  };
  place(main);
  const done = new Set<number>([main]);
  for (let i = 0; i < n; i++) {
    const c = find(i);
    if (done.has(c)) continue;
    done.add(c);
    place(c);
  }
  return { offsets, size: at, fills, problem: null };
}

/** The plain layout: each range 16-aligned after the previous one. */
function packed(f: FunctionInfo): PartsLayout {
  const offsets: number[] = [];
  let at = 0;
  for (const r of f.ranges) {
    at = (at + 15) & ~15;
    offsets.push(at);
    at += r.end - r.start;
  }
  return { offsets, size: at, fills: [], problem: null };
}

/**
 * The .pdata entries of `f` a carried copy registers: every entry but the leaf ones, whose
 * UNWIND_INFO is version 1 with no flags, prolog, unwind codes or frame register. The x64
 * unwinder (RtlVirtualUnwind, and exception dispatch) reads an address no function table
 * covers as a leaf: return address at [RSP], RSP + 8; exactly what such an UNWIND_INFO says,
 * so leaving the entry out changes no unwind and saves its RUNTIME_FUNCTION and 4-byte
 * UNWIND_INFO (gcc gives every frameless function one). A function with a chained entry keeps
 * all of them (a chain names its parent by index).
 */
export function registeredEntries(f: FunctionInfo): FunctionInfo['pdata'] {
  if (f.pdata.some((rf) => ((rf.unwind?.flags ?? 0) & 4) !== 0)) return f.pdata;
  return f.pdata.filter((rf) => !isLeafUnwind(rf.unwind ?? null));
}

function isLeafUnwind(u: FunctionInfo['pdata'][number]['unwind']): boolean {
  return u !== null && u.version === 1 && u.flags === 0 && u.sizeOfProlog === 0 && u.countOfCodes === 0 && u.frameRegister === 0 && u.frameOffset === 0 && u.size === 4;
}

/**
 * Index in `f.pdata` of the entry a chained UNWIND_INFO of `rf` names (same begin, end and
 * unwind info), or -1 when it names none of the function's own entries.
 */
export function chainedParent(f: FunctionInfo, rf: FunctionInfo['pdata'][number]): number {
  const c = rf.unwind?.chained ?? null;
  if (c === null) return -1;
  return f.pdata.findIndex((p) => p !== rf && p.beginAddress === c.beginAddress && p.endAddress === c.endAddress && p.unwindInfoAddress === c.unwindInfoAddress);
}

/**
 * Block offsets of a function's ranges in its code block: parts linked by short branches at
 * their original distances, the rest 16-aligned after them.
 */
export function layoutRanges(f: FunctionInfo): number[] {
  return [...layoutParts(f).offsets];
}
