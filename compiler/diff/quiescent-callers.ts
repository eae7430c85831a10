/**
 * Quiescent callers (format 2.4): OLD code no thread may be inside when the redirects are
 * written. A changed caller whose new body passes a changed callee one more argument is safe
 * for every call made after the patch (its callers reach its new body through its redirect),
 * but a thread already inside its OLD body (in its loop, or in a frame below it whose return
 * address lands there) keeps running the old code, and its next call to the callee's old
 * entry goes through the callee's redirect into the new body, which reads a register or
 * caller stack slot the old caller never set (sample caller-loop: run(2000000) returned a
 * third sum, neither v1's nor v2's). Refusing every such change would refuse most real fixes
 * (a static function gains a parameter and its one caller changes with it); kpatch and
 * Windows hotpatching wait instead until no thread is inside the affected code (their
 * activeness check). So the package lists the old bodies of those callers, and the runtime
 * writes only while no thread's RIP or return address lies in one.
 *
 * A caller needs it when it is redirected (changed and carried) and calls or tail-jumps
 * straight to a redirected callee whose new entry reads argument registers
 * (`Liveness.entryReads`, through the new callee's own callees) or caller stack slots
 * (stack-arguments.ts) that its old entry did not. Unchanged callers need none: their code is
 * the same in both builds, so they already pass what the new callee takes (entry-arguments.ts).
 * A refused caller left old (--skip-refused) drops its callees (diff/left-old.ts).
 * A redirected function that branches to its own entry (a recursion) is its own caller: a
 * thread inside its old body, whose other callers may have left no frame (sample
 * caller-recursion: `run` enters walk by a tail jump), makes its next recursive call through
 * the redirect with the old arguments, so its old body is a range too.
 * A callee that takes the same registers with another meaning is the same hazard: an argument
 * in another role (argument-roles.ts, stack-arguments.ts), two swapped or a middle one removed
 * as the caller's own matched call sites show, or two pointers whose fields moved to each other
 * (argument-permutation.ts `reorderedArguments`; sample caller-loop-order: step(a, b, c) ->
 * step(a, c), old run's b = 3 read by the new step as c).
 * A callee reached through a pointer needs none here: calleesOf leaves it out (the indirect
 * call site cannot name it), but its address is taken, so entry-arguments.ts takes it as a
 * root and refuses the change outright on the same evidence (ENTRY_ARGUMENTS_CHANGED; sample
 * caller-loop-pointer).
 */
import type { HotpatchPackage, RvaRange } from '../../formats/package.ts';
import type { Rva } from '../../common/types.ts';
import { reorderedArguments } from './argument-permutation.ts';
import { ArgumentRoles, describeRoleChange, roleChanges } from './argument-roles.ts';
import { calleesOf, ClobberSets } from './call-graph-clobbers.ts';
import { Liveness } from './caller-registers.ts';
import { RegisterEffects } from './register-effects.ts';
import { stackArgumentUse } from './stack-arguments.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';

/** One old caller whose old body must be quiescent, and why. */
export interface QuiescentCaller {
  /** OLD: the changed caller. */
  readonly caller: FunctionInfo;
  /** OLD: the changed callee it calls or jumps to. */
  readonly callee: FunctionInfo;
  /** Argument registers (register-effects.ts bits) the new callee reads at entry, the old did not. */
  readonly regs: number;
  /** Caller stack-argument slots (stack-arguments.ts bits) the same way. */
  readonly stack: number;
  /** When nothing more is read: how the new callee takes the same arguments with another meaning, in words (else null). */
  readonly meaning: string | null;
}

/** Every redirected OLD caller that reaches a redirected callee whose new entry reads more. */
export function findQuiescentCallers(m: MatchResult, redirected: (oldIndex: number) => boolean): QuiescentCaller[] {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  const pairs: Array<readonly [FunctionInfo, number]> = [];
  for (const c of oldFns) {
    if (!redirected(c.index)) continue;
    for (const k of calleesOf(m.old.fns, c).fns) if (redirected(k)) pairs.push([c, k]);
    // A branch to its own entry (a recursion, a tail call to itself) is a call through its redirect.
    if (c.decoded.refs.some((r) => r.isBranch && r.target === c.entry)) pairs.push([c, c.index]);
  }
  if (pairs.length === 0) return [];
  const newOf = (i: number): FunctionInfo => newFns[m.fnOldToNew[i]!]!;
  const oldFx = new RegisterEffects(m.old.img.image);
  const newFx = new RegisterEffects(m.new.img.image);
  const clobOld = new ClobberSets({ own: (i) => oldFx.ownWrites(oldFns[i]!), succ: (i) => calleesOf(m.old.fns, oldFns[i]!) });
  const clobNew = new ClobberSets({ own: (j) => newFx.ownWrites(newFns[j]!), succ: (j) => calleesOf(m.new.fns, newFns[j]!) });
  // As entry-arguments.ts: a call this analysis cannot follow, a recursion or a chain too deep reads nothing.
  const oldLive = new Liveness(m.old.fns, oldFx, (i) => clobOld.get(i), 0, () => undefined, 0);
  const newLive = new Liveness(m.new.fns, newFx, (j) => clobNew.get(j), 0, () => undefined, 0);
  const oldRoles = new ArgumentRoles(m.old.fns, m.old.img.image, undefined, oldFx);
  const newRoles = new ArgumentRoles(m.new.fns, m.new.img.image, undefined, newFx);
  const growth = new Map<number, { regs: number; stack: number; roles: string | null }>();
  const grownOf = (k: number): { regs: number; stack: number; roles: string | null } => {
    let g = growth.get(k);
    if (g !== undefined) return g;
    const o = oldFns[k]!;
    const n = newOf(k);
    const sOld = stackArgumentUse(m.old.img.image, o, true);
    const sNew = stackArgumentUse(m.new.img.image, n, true);
    const both = sOld !== null && sNew !== null;
    const roles = [...roleChanges(oldRoles.of(o), newRoles.of(n)), ...(both ? roleChanges(sOld.roles, sNew.roles, 4) : [])];
    const said = roles.map((r) => describeRoleChange(r, 'its old body')).join('; ');
    g = { regs: newLive.entryReads(n) & ~oldLive.entryReads(o), stack: both ? sNew.reads & ~sOld.reads : 0, roles: said === '' ? null : said };
    growth.set(k, g);
    return g;
  };
  const out: QuiescentCaller[] = [];
  const seen = new Set<number>();
  for (const [c, k] of pairs) {
    if (seen.has(c.index)) continue;
    const g = grownOf(k);
    // The same registers read with another meaning: in another role, or reordered at this caller's own call sites.
    const o = oldFns[k]!;
    const meaning = (g.regs | g.stack) !== 0 ? null : (g.roles ?? reorderedArguments(m.old.img.image, m.new.img.image, o, newOf(k), [[c, newOf(c.index)]], oldLive.entryReads(o) & ~newLive.entryReads(newOf(k))));
    if ((g.regs | g.stack) === 0 && meaning === null) continue;
    seen.add(c.index);
    out.push({ caller: c, callee: o, regs: g.regs, stack: g.stack, meaning });
  }
  return out;
}

/** The callers' old code ranges, sorted and merged (adjacent ones joined). */
export function quiescentRangesOf(callers: readonly QuiescentCaller[]): RvaRange[] {
  const rs = callers.flatMap((q) => q.caller.ranges).sort((a, b) => a.start - b.start);
  const out: Array<{ start: Rva; end: number }> = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out.filter((r) => r.end > r.start).map((r) => ({ rva: r.start, length: r.end - r.start }));
}

/** The OLD indexes the package redirects (changed functions carried with a redirect at their old entry). */
export function redirectedOld(m: MatchResult, pkg: HotpatchPackage): (oldIndex: number) => boolean {
  const sites = new Set<number>(pkg.redirects.map((r) => r.oldRva));
  const carried = new Set<number>(pkg.functions.map((f) => f.newRva));
  return (i) => {
    const f = m.old.fns.functions[i];
    const n = m.fnOldToNew[i];
    const nf = n === undefined || n < 0 ? undefined : m.new.fns.functions[n];
    return f !== undefined && nf !== undefined && carried.has(nf.entry) && sites.has(f.entry);
  };
}
