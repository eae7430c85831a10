/**
 * "Removed" is a claim about NEW only. In the running OLD image a function with no
 * counterpart keeps running for as long as anything still reaches it, and a patch changes
 * what runs around it: the functions it calls are redirected to new bodies, the objects it
 * touches are built by new code. So an old function that stays reachable after the patch and
 * has no counterpart is not "removed", it is left active next to code it was never compiled
 * with (sharp 0.34.4 -> 0.34.5: old 0x1c470, a virtual method reached only through its vtable
 * slot, calls 0x25240, which is redirected to a body reading a struct whose fields moved).
 *
 * Reachable after the patch means any of:
 * - a relocated pointer in data (a vtable slot, a function-pointer table, a Go func value)
 *   points into it;
 * - matched code takes its address (a non-branch reference: `lea rcx, [fn]`): the pointer
 *   may sit in a heap object made before the patch, even if that code is now redirected;
 * - code that stays active after the patch branches to it: a function that is unchanged or
 *   refused (not redirected), or another unmatched function (any reference) that is itself
 *   reachable.
 * Calls from a function that is redirected do not count: its old body is left.
 *
 * Every such function is refused ("needs a baseline"); the matcher (match-data-slots.ts)
 * first gives vtable-reached methods their counterparts, so what is refused here is what no
 * evidence pairs.
 */
import type { Rva } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import { absTarget, sectionAt } from '../image/map-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reason, type Reason } from './reasons.ts';

/** Why each unmatched old function is still reachable after the patch (old index -> reason). */
export function stillReachable(m: MatchResult, staysActive: (oldIndex: number) => boolean): Map<number, string> {
  const a = m.old;
  const fns = a.fns.functions;
  const unmatched = (f: FunctionInfo | undefined): f is FunctionInfo => f !== undefined && m.fnOldToNew[f.index] === -1;
  const out = new Map<number, string>();
  const hex = (x: number): string => `0x${x.toString(16)}`;
  const where = (rva: number): string => `${sectionAt(a.img, rva)?.name ?? '?'} ${hex(rva)}`;
  // Data pointers (outside every function's code).
  for (const [rva, type] of a.img.relocs) {
    if (a.fns.containing(rva) !== undefined) continue;
    const t = absTarget(a.img, rva, type);
    if (t < 0) continue;
    const g = a.fns.containing(t);
    if (unmatched(g) && !out.has(g.index)) out.set(g.index, `a pointer in data (${where(rva)}) reaches it`);
  }
  // Code: an unmatched function's references are edges (they matter once it is reachable);
  // a matched one takes roots: an address it takes (its old body ran before the patch and
  // may have stored it), a branch when it stays active.
  const edgesFrom = new Map<number, number[]>();
  for (const f of fns) {
    for (const r of f.decoded.refs) {
      const g = a.fns.containing(r.target);
      if (!unmatched(g) || g === f) continue;
      if (m.fnOldToNew[f.index] === -1) {
        const list = edgesFrom.get(f.index) ?? [];
        list.push(g.index);
        edgesFrom.set(f.index, list);
      } else if (out.has(g.index)) continue;
      else if (!r.isBranch) out.set(g.index, `code takes its address (${hex(r.insnRva)} in ${f.name ?? hex(f.entry)}), so a pointer to it may live in objects made before the patch`);
      else if (staysActive(f.index)) out.set(g.index, `${f.name ?? hex(f.entry)}, which stays active, branches to it (${hex(r.insnRva)})`);
    }
  }
  // Unmatched functions reached from reachable unmatched ones.
  const queue = [...out.keys()];
  while (queue.length > 0) {
    const k = queue.pop()!;
    for (const g of edgesFrom.get(k) ?? []) {
      if (out.has(g)) continue;
      out.set(g, `unmatched ${fns[k]!.name ?? hex(fns[k]!.entry)}, itself still reachable, refers to it`);
      queue.push(g);
    }
  }
  return out;
}

/** The refusal of old function `of` (at OLD's `oldRva`), left reachable without a counterpart. */
export function reachableReason(why: string, oldRva: Rva): Reason {
  return reason('REMOVED_STILL_REACHABLE', `has no counterpart in NEW but stays reachable after the patch: ${why}; left active it would run old code next to redirected new code (needs a baseline, or a match)`, oldRva);
}
