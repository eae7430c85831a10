/**
 * Each NEW function's status: unchanged (equal exact normalised forms), changed or added,
 * then propagated: a changed function pulls along the functions that jump into its body
 * and the other members of its exception-handling group.
 */
import type { MatchResult } from '../match/match-images.ts';
import type { EhGroups } from './eh-groups.ts';
import { describeNew } from './resolve-target.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';

/** Statuses by NEW function index, and why an unchanged-looking function changed. */
export interface StatusOfFunctions {
  readonly status: FunctionStatus[];
  /** NEW index -> why it is changed although its own form is equal. */
  readonly why: Map<number, Reason>;
  /** Unchanged functions made changed only because their exception-handling group changed. */
  readonly forcedByGroup: ReadonlySet<number>;
}

/** Statuses of NEW's functions against their OLD matches. */
export function changeStatus(m: MatchResult, eh: EhGroups): StatusOfFunctions {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  const status: FunctionStatus[] = newFns.map((f) => {
    const o = m.fnNewToOld[f.index]!;
    if (o < 0) return 'added';
    return m.oldNorm.sameForm(oldFns[o]!, m.newNorm, f, 'exact') ? 'unchanged' : 'changed';
  });
  const why = new Map<number, Reason>();
  const forcedByGroup = new Set<number>();
  // A function that jumps into the body (not the entry) of a changed function must move with
  // it: the old body it jumps into stays old code (gcc's foo.cold parts jump back into foo).
  // A parent and its funclets (catch blocks, cleanups, filters run on the parent's frame, and
  // share its handler tables) move together too: new tables with old funclets, or a new
  // funclet on an old parent's frame, is a mixed state nobody compiled.
  for (let again = true; again; ) {
    again = false;
    for (const g of eh.groups) {
      const moved = g.find((k) => status[k] !== 'unchanged');
      if (moved === undefined) continue;
      for (const k of g) {
        if (status[k] !== 'unchanged') continue;
        status[k] = 'changed';
        why.set(k, reason('CARRIED_WITH_EH_GROUP', `carried with ${describeNew(m, newFns[moved]!.entry)}: same exception-handling group (parent and funclets travel together)`, newFns[k]!.entry));
        forcedByGroup.add(k);
        again = true;
      }
    }
    for (const f of newFns) {
      if (status[f.index] !== 'unchanged') continue;
      for (const r of f.decoded.refs) {
        const g = m.new.fns.containing(r.target);
        if (g === undefined || g === f || r.target === g.entry || status[g.index] === 'unchanged') continue;
        status[f.index] = 'changed';
        why.set(f.index, reason('JUMPS_INTO_CHANGED', `jumps into the body of changed ${describeNew(m, g.entry)}`, r.insnRva));
        again = true;
        break;
      }
    }
  }
  return { status, why, forcedByGroup };
}
