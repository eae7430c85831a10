/**
 * A changed function whose new body takes arguments its old callers do not pass. When v2
 * changes a signature (a parameter added, a float parameter moved from xmm1 to rdx, a fifth
 * argument on the stack, a struct now returned through a hidden pointer in rcx, which moves
 * every argument one register on), the callers the patch changes pass the new arguments, but
 * a caller the patch leaves old keeps the old convention, and its call reaches the new body
 * through the redirect: the body reads a register or stack slot the caller never set.
 *
 * Which old callers matter. Inside the module, an unchanged caller has the same code in both
 * builds, so it passes exactly what v2's copy passes, which v2's callee was compiled to take;
 * a changed caller is redirected to its new body; a refused one left old by --skip-refused
 * drops its callees too (left-old.ts). What no diff of the module can see are callers outside
 * it, compiled against the old signature: the importers of an export, and whoever holds a
 * pointer to the function (a callback table or vtable that left the module, a pointer handed
 * to the host). So the roots are the OLD functions that the export table names or whose
 * address is taken (a relocated pointer in data, or a non-branch reference from code: the
 * pointer cannot be followed once stored), and for each:
 * - changed: the argument registers its new body reads before writing at entry (through its
 *   callees, `Liveness.entryReads`, with calls this analysis cannot follow reading nothing),
 *   and the caller stack-argument slots it reads (stack-arguments.ts), against its old body's;
 * - unchanged but branching or calling straight into a changed function (an export `jmp`ing to
 *   a worker, the same bytes in both builds while the worker takes one more argument): its
 *   own entry reads once its callees are patched, against the old ones.
 * Anything more refuses the changed function that brings it (ENTRY_ARGUMENTS_CHANGED, naming
 * the registers or slots and the old callers). Sample entry-args: before this rule the
 * package was built and applied live, and a module compiled against v1 calling the export
 * `scale_by(x)` got -x (the new body multiplied by rdx, which that caller had left at -1)
 * where v1 and v2 both answer 3x for its calls.
 *
 * The return side is the same rule: a result that grows past 8 bytes comes back through a
 * hidden pointer in rcx, which moves every argument one register on (entry-args `make_span`).
 *
 * Not covered: the same registers with another meaning (parameters reordered or removed, an
 * int widened to a struct passed by pointer, a struct returned in rax that was returned
 * through rcx: the old caller's rcx is then read as the first argument): the live-in sets
 * are equal, and only the caller's code tells the types apart; an unchanged root that
 * reaches the changed function two calls deep. A thread inside a changed caller's old body at
 * patch time, which calls the new body the old way, is kept out by quiescent ranges
 * (quiescent-callers.ts, format 2.4).
 */
import { absTarget, sectionAt } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { calleesOf, ClobberSets } from './call-graph-clobbers.ts';
import { Liveness } from './caller-registers.ts';
import { reason, type Reason } from './reasons.ts';
import { regNames, RegisterEffects, type ImageEffects } from './register-effects.ts';
import { stackArgumentReads, stackSlotNames } from './stack-arguments.ts';
import type { FunctionStatus } from './types.ts';

const hex = (x: number): string => `0x${x.toString(16)}`;
const nameOf = (f: FunctionInfo): string => f.name ?? hex(f.entry);

/** One changed function whose new entry reads arguments outside callers do not pass. */
export interface EntryArgumentChange {
  /** NEW: the changed function that brings the reads. */
  readonly culprit: FunctionInfo;
  /** OLD: the root outside callers call (the culprit's old body, or an unchanged function entering it). */
  readonly root: FunctionInfo;
  /** The root is an unchanged function that enters the culprit, not the culprit's old body. */
  readonly through: boolean;
  /** Argument registers read at the root's entry once patched, not before. */
  readonly regs: number;
  /** Caller stack-argument slots (stack-arguments.ts bits) read once patched, not before. */
  readonly stack: number;
  /** How old outside callers reach the root: `the export X`, `a pointer in .rdata 0x...`, ... */
  readonly callers: readonly string[];
}

/** The ENTRY_ARGUMENTS_CHANGED reason of a change. */
export function describeEntryArgumentChange(c: EntryArgumentChange): Reason {
  const what = [c.regs !== 0 ? regNames(c.regs) : '', c.stack !== 0 ? stackSlotNames(c.stack) : ''].filter((x) => x !== '').join(', ');
  const via = !c.through ? '' : ` (through old ${nameOf(c.root)}, which enters it and is unchanged)`;
  const msg = `its new body reads ${what} at entry${via}, which the old body never read: old callers left active (${c.callers.join('; ')}) do not pass it`;
  return reason('ENTRY_ARGUMENTS_CHANGED', msg, c.culprit.entry);
}

/** OLD functions outside callers may call, with how: exports and taken addresses (old index -> descriptions). */
export function outsideCallerRoots(m: MatchResult): Map<number, string[]> {
  const a = m.old;
  const out = new Map<number, string[]>();
  // One description of each kind (export, data pointer, taken address) tells the reader why.
  const kinds = new Set<string>();
  const add = (f: FunctionInfo | undefined, kind: string, why: string): void => {
    if (f === undefined || kinds.has(`${f.index}:${kind}`)) return;
    kinds.add(`${f.index}:${kind}`);
    const l = out.get(f.index) ?? [];
    l.push(why);
    out.set(f.index, l);
  };
  for (const x of a.img.pe.exports?.entries ?? []) if (x.forwarder === null) add(a.fns.byEntry.get(x.rva), 'export', `the export ${x.name ?? `#${x.ordinal}`}`);
  for (const [rva, type] of a.img.relocs) {
    if (a.fns.containing(rva) !== undefined) continue;
    const t = absTarget(a.img, rva, type);
    if (t >= 0) add(a.fns.byEntry.get(t), 'data', `a pointer in ${sectionAt(a.img, rva)?.name ?? '?'} ${hex(rva)}`);
  }
  for (const f of a.fns.functions) {
    for (const r of f.decoded.refs) if (!r.isBranch) add(a.fns.byEntry.get(r.target), 'code', `the address taken at ${hex(r.insnRva)} in ${nameOf(f)}`);
  }
  return out;
}

/** Every changed function whose new entry reads arguments that old outside callers do not pass. */
export function findEntryArgumentChanges(m: MatchResult, status: readonly FunctionStatus[], fx: ImageEffects = { old: new RegisterEffects(m.old.img.image), new: new RegisterEffects(m.new.img.image) }): EntryArgumentChange[] {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  const newOf = (i: number): FunctionInfo | undefined => {
    const n = m.fnOldToNew[i]!;
    return n >= 0 && status[n] === 'changed' ? newFns[n] : undefined;
  };
  if (!oldFns.some((f) => newOf(f.index) !== undefined)) return [];
  const oldFx = fx.old;
  const newFx = fx.new;
  const clobOld = new ClobberSets({ own: (i) => oldFx.ownWrites(oldFns[i]!), succ: (i) => calleesOf(m.old.fns, oldFns[i]!) });
  const clobNew = new ClobberSets({ own: (j) => newFx.ownWrites(newFns[j]!), succ: (j) => calleesOf(m.new.fns, newFns[j]!) });
  // A call this analysis cannot follow reads nothing here: what it takes is its own signature's business.
  const oldLive = new Liveness(m.old.fns, oldFx, (i) => clobOld.get(i), 0, () => undefined, 0);
  const newLive = new Liveness(m.new.fns, newFx, (j) => clobNew.get(j), 0, () => undefined, 0);
  const patchedLive = new Liveness(m.old.fns, oldFx, (i) => clobOld.get(i), 0, (g) => {
    const n = newOf(g.index);
    return n === undefined ? undefined : newLive.entryReads(n);
  }, 0);
  const grownRegs = (i: number): number => {
    const n = newOf(i);
    return n === undefined ? 0 : newLive.entryReads(n) & ~oldLive.entryReads(oldFns[i]!);
  };
  const out: EntryArgumentChange[] = [];
  for (const [i, callers] of outsideCallerRoots(m)) {
    const root = oldFns[i]!;
    const n = newOf(i);
    if (n !== undefined) {
      const regs = grownRegs(i);
      const sOld = stackArgumentReads(m.old.img.image, root);
      const sNew = stackArgumentReads(m.new.img.image, n);
      const stack = sOld === null || sNew === null ? 0 : sNew & ~sOld;
      if ((regs | stack) !== 0) out.push({ culprit: n, root, through: false, regs, stack, callers });
      continue;
    }
    if (m.fnOldToNew[i]! < 0) continue;
    // An unchanged root: what it passes through to the changed functions it enters directly.
    const entered = calleesOf(m.old.fns, root).fns.filter((k) => grownRegs(k) !== 0);
    if (entered.length === 0) continue;
    const regs = patchedLive.entryReads(root) & ~oldLive.entryReads(root);
    for (const k of entered) if ((grownRegs(k) & regs) !== 0) out.push({ culprit: newOf(k)!, root, through: true, regs: grownRegs(k) & regs, stack: 0, callers });
  }
  return out;
}

/** The ENTRY_ARGUMENTS_CHANGED reason of each NEW function whose new entry old outside callers cannot call (the first root found). */
export function entryArgumentProblems(m: MatchResult, status: readonly FunctionStatus[], fx?: ImageEffects): Map<number, Reason> {
  const out = new Map<number, Reason>();
  for (const c of findEntryArgumentChanges(m, status, fx)) if (!out.has(c.culprit.index)) out.set(c.culprit.index, describeEntryArgumentChange(c));
  return out;
}
