/**
 * Which OLD read-only item stands for a NEW one when several OLD items hold the same bytes
 * (equal exact content keys). Resolution by content alone takes the first: right for what the
 * bytes say, wrong for identity. Two const objects with equal contents are two objects, and a
 * program compares their addresses (`g_cur == &ops_y`, sentinels, empty ops tables): old code
 * stored OLD's ops_y before the patch, so new code's &ops_y must be OLD's ops_y, not ops_x
 * (samples/rodata-identity). The counterpart is the item that matched code references at the
 * same place: for each matched pair of functions whose references line up (same count, same
 * kind at each position, not branches), a reference to offset k of new item N parallel to one
 * to offset k of old item O is evidence N = O. Evidence only chooses among old items of equal
 * contents, so a misaligned pair can cost identity, never content; conflicting evidence, or
 * none, leaves the first (what content alone gives).
 */
import type { DataItem } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';

interface Counterparts {
  /** Exact key -> the OLD read-only items holding it, for keys two or more hold. */
  readonly groups: ReadonlyMap<string, readonly DataItem[]>;
  /** NEW item index -> its OLD counterpart's index (-1: conflicting evidence); built on first need. */
  evidence: Map<number, number> | null;
}

const cache = new WeakMap<MatchResult, Counterparts>();

function counterparts(m: MatchResult): Counterparts {
  let c = cache.get(m);
  if (c !== undefined) return c;
  const all = new Map<string, DataItem[]>();
  for (const d of m.old.items) {
    if (d.writable || d.jumpTable) continue;
    const k = m.oldNorm.itemKey(d, 'exact');
    const list = all.get(k);
    if (list === undefined) all.set(k, [d]);
    else list.push(d);
  }
  const groups = new Map<string, readonly DataItem[]>();
  for (const [k, list] of all) if (list.length > 1) groups.set(k, list);
  c = { groups, evidence: null };
  cache.set(m, c);
  return c;
}

/**
 * Every pair of parallel data references of matched functions whose references line up (same
 * count, same kind at each position, not branches): `visit(n, o)` with the NEW and OLD item
 * referenced at the same offset (NEW's read-only; OLD's any item, its kind checked by the caller).
 */
export function forEachParallelItemRef(m: MatchResult, visit: (n: DataItem, o: DataItem) => void): void {
  for (const g of m.new.fns.functions) {
    const o = m.fnNewToOld[g.index]!;
    if (o < 0) continue;
    const nr = g.decoded.refs;
    const or = m.old.fns.functions[o]!.decoded.refs;
    if (nr.length !== or.length) continue;
    for (let k = 0; k < nr.length; k++) {
      const a = nr[k]!;
      const b = or[k]!;
      if (a.kind !== b.kind || a.isBranch || b.isBranch) continue;
      const oi = m.old.itemAt(b.target);
      const ni = oi === undefined ? undefined : m.new.itemAt(a.target);
      if (oi === undefined || ni === undefined || ni.writable || a.target - ni.start !== b.target - oi.start) continue;
      visit(ni, oi);
    }
  }
}

/** Parallel references of matched functions into the OLD items of `groups`. */
function collectEvidence(m: MatchResult, groups: ReadonlyMap<string, readonly DataItem[]>): Map<number, number> {
  const inGroup = new Set<number>();
  for (const list of groups.values()) for (const d of list) inGroup.add(d.index);
  const out = new Map<number, number>();
  forEachParallelItemRef(m, (ni, oi) => {
    if (!inGroup.has(oi.index)) return;
    const seen = out.get(ni.index);
    if (seen === undefined) out.set(ni.index, oi.index);
    else if (seen !== oi.index) out.set(ni.index, -1);
  });
  return out;
}

/**
 * The OLD item new read-only `item` (exact key `key`) resolves to: `first` (the first OLD item
 * with those bytes) unless several hold them and matched code names another as its counterpart.
 */
export function oldCounterpart(m: MatchResult, item: DataItem, key: string, first: DataItem): DataItem {
  const c = counterparts(m);
  const group = c.groups.get(key);
  if (group === undefined) return first;
  c.evidence ??= collectEvidence(m, c.groups);
  const o = c.evidence.get(item.index);
  return group.find((d) => d.index === o) ?? first;
}
