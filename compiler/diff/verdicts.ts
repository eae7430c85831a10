/**
 * A verdict per changed or added function, settled to a fixed point: a function is refused
 * when its exception-handling group cannot travel, when it touches a global whose layout or
 * initial value changed, when it runs only at load time (load-time-only.ts), when the
 * structures it reads changed layout (layout-shift.ts; a bit-field word a refused writer
 * now packs in another layout: bitfield-readers.ts), when a table of code pointers objects
 * keep changed layout (code-tables.ts), when an old caller keeps registers its new body
 * clobbers (caller-registers.ts), when it reads arguments its old outside callers do not pass
 * (entry-arguments.ts), when its old body is folded with another function that
 * does not change alike (folded-functions.ts), when the emitter could not carry it (emission-check.ts) or its old
 * entry cannot take a redirect (redirect-sites.ts); and a function that needs a refused one
 * in the package is refused in turn.
 */
import { layoutRanges } from '../functions/layout-parts.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { EhGroups } from './eh-groups.ts';
import { globalBitfieldProblems, newDiffBitfieldScans } from './bitfield-globals.ts';
import { flagMoveProblems } from './flag-moves.ts';
import { packedMoveProblems } from './bitfield-packed-moves.ts';
import { bitfieldChangesOf, bitfieldReaderProblems } from './bitfield-readers.ts';
import { callerRegisterProblems } from './caller-registers.ts';
import { codeTableProblems } from './code-tables.ts';
import { emissionProblem } from './emission-check.ts';
import { entryArgumentProblems } from './entry-arguments.ts';
import { changedFieldAccesses, fieldSwapProblems } from './field-swap.ts';
import { fieldMoveProblems } from './field-moves.ts';
import { foldedFunctionProblems } from './folded-functions.ts';
import { layoutProblem, retypedFieldProblem } from './layout-shift.ts';
import { loadTimeCheck } from './load-time-only.ts';
import { loopExtentProblem } from './loop-extent.ts';
import { planRedirect } from './redirect-sites.ts';
import { describeNew, oldRodataByKey, type ResolveContext } from './resolve-target.ts';
import { rodataEscapeCheck } from './rodata-escape.ts';
import { reorderedTableProblems } from './rodata-reordered.ts';
import { reason, type Reason } from './reasons.ts';
import { RegisterEffects, type ImageEffects } from './register-effects.ts';
import { untouchedByOldCode } from './untouched-old.ts';
import type { DataChange, FunctionStatus, RedirectPlan } from './types.ts';

/** The settled verdicts: refusal reasons and redirect plans by NEW function index. */
export interface Verdicts {
  readonly reasons: Map<number, Reason>;
  readonly redirects: ReadonlyMap<number, RedirectPlan>;
}

/** Settles the verdict of every changed or added NEW function. */
export function settleVerdicts(m: MatchResult, status: readonly FunctionStatus[], eh: EhGroups, data: readonly DataChange[]): Verdicts {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  // The functions the package would carry, each in its own block (the emission check
  // resolves references to them as the emitter will).
  const emitted = new Map<number, number>();
  const rangeOffsets = new Map<number, number[]>();
  for (const f of newFns) {
    if (status[f.index] === 'changed' || status[f.index] === 'added') {
      emitted.set(f.index, emitted.size);
      rangeOffsets.set(f.index, layoutRanges(f));
    }
  }
  const ctx: ResolveContext = { m, blockOf: emitted, rangeOffsets, carry: () => 0, importIndex: () => 0, oldRodata: oldRodataByKey(m), untouchedOld: untouchedByOldCode(m, status), unredirected: eh.noRedirect };
  const touchesBadGlobal = badGlobalCheck(m, data);
  const loadTimeProblem = loadTimeCheck(m);
  const escapedRodata = rodataEscapeCheck(ctx);
  // Functions reading a read-only table whose entries changed places (stored indexes change meaning).
  const reorderedTables = reorderedTableProblems(m, status);
  const tableProblems = codeTableProblems(m, status);
  const referrers = referrersOf(m, emitted);
  // Changed functions that decode, with new constants, a bit-field word a changed writer now packs differently.
  // Bit-field changes of each changed pair, once: the readers rule and the layout verdict share them.
  // Each body's bit-field steps and reads, computed once for all the bit-field rules (body-memo.ts).
  const scans = newDiffBitfieldScans(m);
  const bitChanges = bitfieldChangesOf(m, status, scans);
  const bitReaders = bitfieldReaderProblems(m, status, bitChanges, scans);
  // Changed functions that pack a word whole with fields at other bits, and changed readers that decode the moved fields.
  const packedMoves = packedMoveProblems(m, status, undefined, scans);
  // Changed functions that pack a global's bit-field word in another layout, and changed readers of that word.
  const globalBits = globalBitfieldProblems(m, status, scans);
  // Writers whose one-bit flags moved while their number changed, and changed readers of those words.
  const flagMoves = flagMoveProblems(m, status, scans);
  // Old callers that keep volatile registers across a call whose new callee clobbers them.
  const fx: ImageEffects = { old: new RegisterEffects(m.old.img.image), new: new RegisterEffects(m.new.img.image) };
  const clobbered = callerRegisterProblems(m, status, fx);
  // Exported or address-taken functions whose new body reads arguments old outside callers do not pass.
  const entryArgs = entryArgumentProblems(m, status, fx);
  // Changed functions whose old body is also another function (identical code folding).
  const folded = foldedFunctionProblems(m, status);
  // Changed functions whose fields exchange offsets (a store in the new layout, or the same exchange in two functions).
  const fieldAccesses = changedFieldAccesses(m, status);
  const swapped = fieldSwapProblems(m, status, fieldAccesses);
  // Changed functions where one field moved to another offset, the same way as in another changed function.
  const movedFields = fieldMoveProblems(m, fieldAccesses);
  const reasons = new Map<number, Reason>();
  const redirects = new Map<number, RedirectPlan>();
  const reservedSites = new Set<number>();
  /** Why a group's first member was refused (group refusals name it, not each other). */
  const baseReasons = new Map<number, Reason>();
  const okItems = new Set<number>();
  // The layout, retyped-field and loop-extent verdicts depend only on the function and its
  // match, and the fixed point below checks a function several times (aligning two bodies is
  // the costliest check): once each.
  const layoutOf = oncePerFunction((f, st) => layoutProblem(m, f, st, bitChanges.get(f.index), eh.funclets.has(f.index)));
  const retypedOf = oncePerFunction((f, st) => retypedFieldProblem(m, f, st, eh.funclets.has(f.index)));
  const loopExtentOf = oncePerFunction((f, st) => loopExtentProblem(m, f, st, eh.funclets.has(f.index)));
  const queue: number[] = [];
  const check = (f: FunctionInfo): void => {
    const st = status[f.index]!;
    if ((st !== 'changed' && st !== 'added') || reasons.has(f.index)) return;
    const o = m.fnNewToOld[f.index]!;
    const group = eh.groupOf.get(f.index);
    const refusedMate = group?.find((k) => k !== f.index && reasons.has(k));
    let why: Reason | null =
      refusedMate !== undefined
        ? reason('EH_GROUP_MEMBER_REFUSED', `its exception-handling group member ${describeNew(m, newFns[refusedMate]!.entry)} is refused (${(baseReasons.get(refusedMate) ?? reasons.get(refusedMate))!.message})`, newFns[refusedMate]!.entry)
        : groupProblem(m, f, st, status, eh);
    if (why !== null && refusedMate === undefined) baseReasons.set(f.index, why);
    else if (refusedMate !== undefined) baseReasons.set(f.index, baseReasons.get(refusedMate) ?? reasons.get(refusedMate)!);
    if (why === null) {
      why = touchesBadGlobal(f) ?? loadTimeProblem(f, st) ?? tableProblems.get(f.index) ?? layoutOf(f, st) ?? bitReaders.get(f.index) ?? packedMoves.get(f.index) ?? globalBits.get(f.index) ?? flagMoves.get(f.index) ?? clobbered.get(f.index) ?? entryArgs.get(f.index) ?? retypedOf(f, st) ?? swapped.get(f.index) ?? movedFields.get(f.index) ?? loopExtentOf(f, st) ?? folded.get(f.index) ?? escapedRodata(f) ?? reorderedTables.get(f.index) ?? emissionProblem(ctx, f, okItems);
      if (why !== null) baseReasons.set(f.index, why);
    }
    // A funclet only the handler tables reach keeps no redirect: old frames keep their old
    // funclets, the new tables reach the new ones.
    if (why === null && o >= 0 && !redirects.has(f.index) && !eh.noRedirect.has(f.index)) {
      const r = planRedirect(m.old, oldFns[o]!, reservedSites);
      if ('code' in r) why = r;
      else redirects.set(f.index, r);
    }
    if (why !== null) {
      reasons.set(f.index, why);
      emitted.delete(f.index);
      okItems.clear();
      for (const k of referrers.get(f.index) ?? []) queue.push(k);
      for (const k of group ?? []) if (k !== f.index) queue.push(k);
    }
  };
  for (const f of newFns) check(f);
  while (queue.length > 0) check(newFns[queue.pop()!]!);
  // Carried data can point at functions too: one more full pass settles those.
  for (let again = true; again; ) {
    const before = reasons.size;
    for (const f of newFns) check(f);
    while (queue.length > 0) check(newFns[queue.pop()!]!);
    again = reasons.size !== before;
  }
  return { reasons, redirects };
}

/** `check`, asked of each function once (later asks get the first answer). */
function oncePerFunction(check: (f: FunctionInfo, st: FunctionStatus) => Reason | null): (f: FunctionInfo, st: FunctionStatus) => Reason | null {
  const kept = new Map<number, Reason | null>();
  return (f, st) => {
    let r = kept.get(f.index);
    if (r === undefined) kept.set(f.index, (r = check(f, st)));
    return r;
  };
}

/** Why `f`'s exception-handling situation forbids carrying it (shared or orphan funclets), or null. */
function groupProblem(m: MatchResult, f: FunctionInfo, st: FunctionStatus, status: readonly FunctionStatus[], eh: EhGroups): Reason | null {
  const sharedBy = eh.shared.get(f.index);
  if (sharedBy !== undefined && st === 'changed') return reason('EH_SHARED_FUNCLET_CHANGED', `funclet shared by ${sharedBy} functions' exception handling changed: old frames of its other parents would run the new code`, f.entry);
  const changedShared = eh.namesShared.get(f.index)?.find((k) => status[k] === 'changed');
  if (changedShared !== undefined) return reason('EH_NAMES_CHANGED_SHARED_FUNCLET', `its exception handling names ${describeNew(m, m.new.fns.functions[changedShared]!.entry)}, a funclet shared with other functions, which changed`, m.new.fns.functions[changedShared]!.entry);
  if (eh.orphans.has(f.index)) return reason('EH_ORPHAN_FUNCLET', 'funclet (its handler data names it) of no parent function this analysis found', f.entry);
  return null;
}

/** New code must not touch a global whose layout or initial value changed: the check, per function. */
function badGlobalCheck(m: MatchResult, data: readonly DataChange[]): (f: FunctionInfo) => Reason | null {
  const badItems = new Map<number, DataChange>();
  for (const d of data) {
    if (d.verdict !== 'refused' || d.newRva === null) continue;
    const item = m.new.itemAt(d.newRva);
    if (item !== undefined && item.writable) badItems.set(item.index, d);
  }
  return (f) => {
    for (const r of f.decoded.refs) {
      const item = m.new.itemAt(r.target);
      const d = item === undefined ? undefined : badItems.get(item.index);
      if (d !== undefined) return reason('USES_CHANGED_GLOBAL', `uses ${d.name ?? describeNew(m, r.target)}, whose layout or initial value changed (${d.reason.code})`, r.insnRva);
    }
    return null;
  };
}

/** Who references whom among the carried functions, so a refusal re-checks just the referrers. */
function referrersOf(m: MatchResult, emitted: ReadonlyMap<number, number>): Map<number, number[]> {
  const referrers = new Map<number, number[]>();
  for (const f of m.new.fns.functions) {
    if (!emitted.has(f.index)) continue;
    for (const r of f.decoded.refs) {
      const g = m.new.fns.containing(r.target);
      if (g === undefined || g === f) continue;
      const list = referrers.get(g.index) ?? [];
      if (list[list.length - 1] !== f.index) list.push(f.index);
      referrers.set(g.index, list);
    }
  }
  return referrers;
}
