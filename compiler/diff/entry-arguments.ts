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
 * - unchanged but reaching a changed function through direct calls and jumps into unchanged
 *   ones (an export `jmp`ing to a worker, the same bytes in both builds while the worker takes
 *   one more argument): its own entry reads and roles once its callees are patched, against
 *   the old ones.
 * Anything more refuses the changed function that brings it (ENTRY_ARGUMENTS_CHANGED, naming
 * the registers or slots and the old callers). Sample entry-args: before this rule the
 * package was built and applied live, and a module compiled against v1 calling the export
 * `scale_by(x)` got -x (the new body multiplied by rdx, which that caller had left at -1)
 * where v1 and v2 both answer 3x for its calls.
 *
 * The return side is the same rule: a result that grows past 8 bytes comes back through a
 * hidden pointer in rcx, which moves every argument one register on (entry-args `make_span`).
 *
 * The same registers with another meaning (parameters reordered, a first parameter removed, a
 * struct result that shrank from a hidden pointer in rcx to rax) leave the live-in sets equal:
 * the roles of each argument (argument-roles.ts: dereferenced, used as an integer, returned in
 * rax) are compared too, and a pointer that became an integer, or the reverse, refuses the
 * root (sample entry-args-roles). An unchanged root is compared with the changed functions it
 * reaches through any chain of unchanged ones (entry-args-roles `deep_api` -> `deep_mid` ->
 * `deep_impl`).
 *
 * The caller stack-argument slots (the fifth argument on) get the same comparison for a changed
 * root (stack-arguments.ts `stackArgumentRoles`: a slot read as 32 bits holds no pointer, one
 * loaded whole and dereferenced does): a fifth and sixth parameter swapped, or a fifth removed,
 * read the same slots or fewer (sample entry-args-stack).
 *
 * Two parameters of one kind swapped (two integers) keep registers and roles: the module's own
 * changed callers show it, passing the same values in swapped registers at their matched call
 * sites (argument-permutation.ts, sample entry-args-swap). Two doubles swapped (xmm0 and
 * xmm1), or two stack arguments of one kind, are the same evidence in the xmm registers and
 * the outgoing stack slots (site-arguments.ts, probes entry-args-fswap and entry-args-fshapes).
 *
 * Two pointers whose fields moved to each other's register, and a middle parameter removed (the
 * changed callers pass in rdx what they passed in r8) are the same evidence
 * (argument-permutation.ts reorderedArguments, pointer-fields.ts; sample entry-args-order).
 *
 * An unchanged root that enters a changed function by tail jumps at its entry (a thunk, `jmp
 * impl`) hands it the caller's stack slots unmoved: the function's stack roles are compared
 * too (sample entry-args-thunk); a call moves them with the caller's frame.
 *
 * When no caller shows it (an export the module calls only through pointers), the bodies' own
 * uses of each argument slot do (argument-uses.ts): two slots whose distinguishing uses changed
 * places (two pointers to one struct swapped: the stores moved to the register the loads came
 * from), or the last used slot fallen unused while the slots below take the next one's uses (a
 * middle integer or double removed; probes entry-args-params, entry-args-pshapes). An unchanged
 * root that hands its callers' arguments on unmoved (argument-uses.ts handsArgumentsTo: a thunk,
 * a wrapper that only saves registers before its call) to a changed function whose uses moved
 * brings it too (entry-args-pshapes `move_api` -> `move_impl`), and so does one that moves an
 * argument by a constant in its own slot first (`impl(to + 1, from + 1)`: `add rcx,0x10`;
 * entry-args-alike `calc_api` -> `calc_impl`). At -O0 the uses are followed through the frame
 * slots each argument is spilled to (entry-args-params at -O0).
 *
 * Two parameters used exactly alike but for the calls they are handed to, whose first calls
 * changed order (entry-args-alike `order2(a, b)` -> `order2(b, a)`, each handed in turn to
 * stamp()), are the same evidence (argument-uses.ts reorderedPass). So are two whose values,
 * or the values loaded through them, reach the other operand role of one operation (`*a -
 * *b`, `x / y`'s dividend and divisor, the left of `<`; probe entry-args-loads).
 *
 * Two pointers whose loaded values are stored to two globals, each value now to the other's
 * global (probe entry-args-globals): the globals are named by identity through the data match,
 * and the values' destinations exchanged.
 *
 * Not covered: two parameters used exactly alike with no call to order them (a symmetric
 * body); a loaded value whose global is lost on the way (through `lea`, `xor`, a three-operand
 * `imul`: the use search follows a loaded value only through arithmetic that accumulates into
 * its register) when the order of first uses stays; at -O0, an unchanged root's spills before its
 * call (it hands nothing on), and uses the frame slots alone do not tell apart (gcc -O0 `mix`,
 * pointer sums `add rax,rdx`); stack roles
 * of an unchanged root reaching a changed callee by a call (the slots move with its frame). A thread
 * inside a changed caller's old body at patch time, which calls the new body the old way, is
 * kept out by quiescent ranges (quiescent-callers.ts, format 2.4).
 */
import { FlowControl } from 'iced-x86';
import { absTarget, sectionAt } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reorderedArguments } from './argument-permutation.ts';
import { describeUseMove } from './argument-use-names.ts';
import { argumentUses, handsArgumentsTo } from './argument-uses.ts';
import { movedUses } from './argument-moves.ts';
import { matchedGlobalNames } from './argument-use-insns.ts';
import { ArgumentRoles, describeRoleChange, roleChanges, type RoleChange } from './argument-roles.ts';
import { calleesOf, ClobberSets } from './call-graph-clobbers.ts';
import { Liveness } from './caller-registers.ts';
import { reason, type Reason } from './reasons.ts';
import { regNames, RegisterEffects, type ImageEffects } from './register-effects.ts';
import { stackArgumentUse, stackSlotNames } from './stack-arguments.ts';
import type { FunctionStatus } from './types.ts';

const hex = (x: number): string => `0x${x.toString(16)}`;
/** rcx's bit in register-effects.ts masks (rdx, r8, r9 follow). */
const ARG_BIT = 1 << 1;
const nameOf = (f: FunctionInfo): string => f.name ?? hex(f.entry);

/** One changed function whose new entry reads arguments outside callers do not pass. */
export interface EntryArgumentChange {
  /** NEW: the changed function that brings the reads. */
  readonly culprit: FunctionInfo;
  /** OLD: the root outside callers call (the culprit's old body, or an unchanged function entering it). */
  readonly root: FunctionInfo;
  /** The root is an unchanged function that enters the culprit, not the culprit's old body. */
  readonly through: boolean;
  /** When `through`: the unchanged OLD functions from the root to the culprit (the root first; one when it enters the culprit directly). */
  readonly path: readonly FunctionInfo[];
  /** Argument registers read at the root's entry once patched, not before. */
  readonly regs: number;
  /** Caller stack-argument slots (stack-arguments.ts bits) read once patched, not before. */
  readonly stack: number;
  /** Argument registers read at the root's entry in a role old callers cannot satisfy (argument-roles.ts). */
  readonly roles: readonly RoleChange[];
  /** How old outside callers reach the root: `the export X`, `a pointer in .rdata 0x...`, ... */
  readonly callers: readonly string[];
  /** Two argument registers the module's changed callers now pass swapped, in words (argument-permutation.ts), or null. */
  readonly swap?: string | null;
}

/** The ENTRY_ARGUMENTS_CHANGED reason of a change. */
export function describeEntryArgumentChange(c: EntryArgumentChange): Reason {
  const what = [c.regs !== 0 ? regNames(c.regs) : '', c.stack !== 0 ? stackSlotNames(c.stack) : ''].filter((x) => x !== '').join(', ');
  const via = !c.through ? '' : ` (through old ${c.path.map(nameOf).join(' -> ')}, which ${c.path.length > 1 ? 'reach it and are' : 'enters it and is'} unchanged)`;
  const parts: string[] = [];
  if (what !== '') parts.push(`reads ${what} at entry${via}, which the old body never read`);
  const before = c.through ? `old ${nameOf(c.root)} did before the patch` : 'its old body';
  for (const r of c.roles) parts.push(`${describeRoleChange(r, before)}${what === '' ? via : ''}`);
  if (c.swap != null) parts.push(`${c.swap}${what === '' && c.roles.length === 0 ? via : ''}`);
  const msg = `its new body ${parts.join('; it ')}: old callers left active (${c.callers.join('; ')}) ${what !== '' ? 'do not pass it' : 'pass what the old signature meant there'}`;
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

/** Every changed function whose new entry reads arguments that old outside callers do not pass, or reads them in another role. */
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
  const oldRoles = new ArgumentRoles(m.old.fns, m.old.img.image, undefined, oldFx);
  const newRoles = new ArgumentRoles(m.new.fns, m.new.img.image, undefined, newFx);
  const patchedRoles = new ArgumentRoles(m.old.fns, m.old.img.image, (g) => {
    const n = newOf(g.index);
    return n === undefined ? undefined : newRoles.of(n);
  }, oldFx);
  const grownRegs = (i: number): number => {
    const n = newOf(i);
    return n === undefined ? 0 : newLive.entryReads(n) & ~oldLive.entryReads(oldFns[i]!);
  };
  const changedRoles = (i: number): RoleChange[] => {
    const n = newOf(i);
    return n === undefined ? [] : roleChanges(oldRoles.of(oldFns[i]!), newRoles.of(n));
  };
  // Unchanged roots matter only when they reach a changed function whose entry reads more, or
  // in other roles (computed for the changed functions alone; the roots' searches are the cost).
  // That test costs a liveness and a role search of both bodies: it runs, in index order, only
  // for the changed roots and the changed functions an unchanged root reaches (through any
  // functions), the only ones `reaching` is asked about (on swc-html 1.15.24 -> 1.15.33, 1442
  // of 3939 changed functions).
  const roots = outsideCallerRoots(m);
  const brings = new Set<number>();
  // Caller stack slots of a changed function: read now and not before, or in another role (one walk of each body, kept).
  const stackChanges = new Map<number, { reads: number; roles: RoleChange[] }>();
  const stackChange = (i: number, n: FunctionInfo): { reads: number; roles: RoleChange[] } => {
    let c = stackChanges.get(i);
    if (c === undefined) {
      const sOld = stackArgumentUse(m.old.img.image, oldFns[i]!, true);
      const sNew = stackArgumentUse(m.new.img.image, n, true);
      c = sOld === null || sNew === null ? { reads: 0, roles: [] } : { reads: sNew.reads & ~sOld.reads, roles: roleChanges(sOld.roles, sNew.roles, 4) };
      stackChanges.set(i, c);
    }
    return c;
  };
  const stackChanged = (i: number): boolean => {
    const n = newOf(i);
    if (n === undefined) return false;
    const c = stackChange(i, n);
    return c.reads !== 0 || c.roles.length > 0;
  };
  // The argument uses of a changed function's old and new bodies, moved (argument-uses.ts), in words, or null.
  const usesMoved = new Map<number, string | null>();
  // Writable globals named by identity (the data match), not by their load-time bytes.
  const [oldGlobals, newGlobals] = [matchedGlobalNames(m, 'old'), matchedGlobalNames(m, 'new')];
  const usesMovedIn = (i: number): string | null => {
    if (usesMoved.has(i)) return usesMoved.get(i)!;
    const n = newOf(i)!;
    const newReads = newLive.entryReads(n);
    const [uOld, uNew] = [argumentUses(m.old.img.image, oldFns[i]!, oldGlobals), argumentUses(m.new.img.image, n, newGlobals)];
    const moved = movedUses(uOld, uNew, (slot) => (newReads & (ARG_BIT << slot)) !== 0, { old: uOld.passedAt, new: uNew.passedAt });
    const text = moved === null ? null : describeUseMove(moved);
    usesMoved.set(i, text);
    return text;
  };
  // A changed function whose stack slots change matters to an unchanged root only through tail jumps at its entry (below).
  // Argument uses are compared only where an unchanged function hands its callers' arguments on unmoved.
  let callersOf: Map<number, number[]> | null = null;
  // (Which function an OLD one hands them to, asked of a changed function's unchanged callers only, kept.)
  const handed = new Map<number, number>();
  const handsTo = (f: FunctionInfo): number => {
    let t = handed.get(f.index);
    if (t === undefined) handed.set(f.index, (t = handsArgumentsTo(m.old.img.image, f)));
    return t;
  };
  const usesMovedThunked = (i: number): boolean => {
    callersOf ??= callerMap(m);
    const handedIt = (callersOf.get(i) ?? []).some((c) => m.fnOldToNew[c]! >= 0 && newOf(c) === undefined && handsTo(oldFns[c]!) === oldFns[i]!.entry);
    return handedIt && usesMovedIn(i) !== null;
  };
  for (const i of changedToTest(m, roots, (k) => newOf(k) !== undefined)) if (grownRegs(i) !== 0 || changedRoles(i).length > 0 || (!roots.has(i) && (stackChanged(i) || usesMovedThunked(i)))) brings.add(i);
  const reaching = reachingThroughUnchanged(m, (i) => brings.has(i));
  // Changed roots' changed callers in the module: their call sites may show parameters swapped.
  const swapOf = (i: number, root: FunctionInfo, n: FunctionInfo): string | null => {
    callersOf ??= callerMap(m);
    const callers = (callersOf.get(i) ?? []).flatMap((c) => {
      const nc = newOf(c);
      return nc === undefined ? [] : [[oldFns[c]!, nc] as const];
    });
    const dropped = oldLive.entryReads(root) & ~newLive.entryReads(n);
    const sites = reorderedArguments(m.old.img.image, m.new.img.image, root, n, callers, dropped);
    // No caller shows it: the bodies' own uses of each argument slot (argument-uses.ts).
    return sites ?? usesMovedIn(i);
  };
  const out: EntryArgumentChange[] = [];
  for (const [i, callers] of roots) {
    const root = oldFns[i]!;
    const n = newOf(i);
    if (n !== undefined) {
      const regs = grownRegs(i);
      // Caller stack slots: read now and not before, or read in another role (one walk each).
      const s = stackChange(i, n);
      const stack = s.reads;
      const roles = [...changedRoles(i), ...s.roles];
      const swap = (regs | stack) === 0 && roles.length === 0 ? swapOf(i, root, n) : null;
      if ((regs | stack) !== 0 || roles.length > 0 || swap !== null) out.push({ culprit: n, root, through: false, path: [], regs, stack, roles, callers, swap });
      continue;
    }
    if (m.fnOldToNew[i]! < 0 || !reaching.has(i)) continue;
    // An unchanged root: what it passes on, through unchanged functions, to the changed ones it reaches.
    const regs = patchedLive.entryReads(root) & ~oldLive.entryReads(root);
    const roles = roleChanges(oldRoles.of(root), patchedRoles.of(root));
    const reached = changedReached(m, root, (k) => newOf(k) !== undefined);
    // Caller stack slots reach a changed function unmoved only through tail jumps at the entry of each function on the way (thunks).
    // Its argument registers reach a changed function unmoved through functions that hand them
    // on before writing any (a thunk, a wrapper; argument-uses.ts; probe entry-args-pshapes `move_api`).
    for (const [k, path] of reached) {
      const c = tailJumpsTo(m, path, oldFns[k]!) ? stackChange(k, newOf(k)!) : { reads: 0, roles: [] };
      const hands = path.every((f, x) => handsTo(f) === (path[x + 1] ?? oldFns[k]!).entry);
      const moved = c.reads === 0 && c.roles.length === 0 && hands ? usesMovedIn(k) : null;
      if (c.reads !== 0 || c.roles.length > 0 || moved !== null) out.push({ culprit: newOf(k)!, root, through: true, path, regs: 0, stack: c.reads, roles: c.roles, callers, swap: moved });
    }
    if (regs === 0 && roles.length === 0) continue;
    // The changed functions that bring it (all of them reached when no single one does).
    const brings = (k: number): boolean => (grownRegs(k) & regs) !== 0 || (roles.length > 0 && changedRoles(k).length > 0);
    const culprits = reached.some(([k]) => brings(k)) ? reached.filter(([k]) => brings(k)) : reached;
    for (const [k, path] of culprits) out.push({ culprit: newOf(k)!, root, through: true, path, regs: grownRegs(k) & regs, stack: 0, roles, callers });
  }
  return out;
}

/** Whether each function of `path` (OLD) begins with a direct jump to the next one, the last to `to`: the caller's stack slots arrive unmoved. */
function tailJumpsTo(m: MatchResult, path: readonly FunctionInfo[], to: FunctionInfo): boolean {
  return path.every((f, k) => {
    const first = f.decoded.insns[0];
    const next = path[k + 1] ?? to;
    if (first === undefined || first.rva !== f.entry || first.flow !== FlowControl.UnconditionalBranch || first.refCount !== 1) return false;
    const r = f.decoded.refs[first.refIndex];
    return r !== undefined && r.isBranch && r.target === next.entry && m.old.fns.byEntry.get(r.target) === next;
  });
}

/** The changed roots and the changed OLD functions an unchanged root reaches through direct calls and jumps, in index order. */
function changedToTest(m: MatchResult, roots: ReadonlyMap<number, readonly string[]>, changed: (i: number) => boolean): number[] {
  const out = new Set<number>();
  const seen = new Set<number>();
  const stack: number[] = [];
  for (const i of roots.keys()) {
    if (changed(i)) out.add(i);
    else if (m.fnOldToNew[i]! >= 0 && !seen.has(i)) (seen.add(i), stack.push(i));
  }
  while (stack.length > 0) {
    for (const c of calleesOf(m.old.fns, m.old.fns.functions[stack.pop()!]!).fns) {
      if (seen.has(c)) continue;
      seen.add(c);
      if (changed(c)) out.add(c);
      stack.push(c);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** OLD callers of each OLD function, through direct calls and jumps (calleesOf). */
function callerMap(m: MatchResult): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const f of m.old.fns.functions) {
    for (const c of calleesOf(m.old.fns, f).fns) {
      const l = out.get(c);
      if (l === undefined) out.set(c, [f.index]);
      else l.push(f.index);
    }
  }
  return out;
}

/** OLD functions that reach a changed one through direct calls and jumps into unchanged functions (the changed ones included). */
function reachingThroughUnchanged(m: MatchResult, changed: (i: number) => boolean): Set<number> {
  const callers = new Map<number, number[]>();
  const out = new Set<number>();
  for (const f of m.old.fns.functions) {
    if (changed(f.index)) out.add(f.index);
    for (const c of calleesOf(m.old.fns, f).fns) {
      const l = callers.get(c);
      if (l === undefined) callers.set(c, [f.index]);
      else l.push(f.index);
    }
  }
  const stack = [...out];
  while (stack.length > 0) for (const c of callers.get(stack.pop()!) ?? []) if (!out.has(c) && !changed(c)) (out.add(c), stack.push(c));
  return out;
}

/** The changed functions `root` reaches through unchanged ones, each with the unchanged path to it (root first). */
function changedReached(m: MatchResult, root: FunctionInfo, changed: (i: number) => boolean): Array<readonly [number, readonly FunctionInfo[]]> {
  const fns = m.old.fns.functions;
  const via = new Map<number, number>([[root.index, -1]]);
  const out: Array<readonly [number, readonly FunctionInfo[]]> = [];
  const queue = [root.index];
  for (let q = 0; q < queue.length; q++) {
    const x = queue[q]!;
    for (const c of calleesOf(m.old.fns, fns[x]!).fns) {
      if (via.has(c)) continue;
      via.set(c, x);
      if (!changed(c)) {
        queue.push(c);
        continue;
      }
      const path: FunctionInfo[] = [];
      for (let y = x; y >= 0; y = via.get(y)!) path.unshift(fns[y]!);
      out.push([c, path]);
    }
  }
  return out;
}

/** The ENTRY_ARGUMENTS_CHANGED reason of each NEW function whose new entry old outside callers cannot call (the first root found). */
export function entryArgumentProblems(m: MatchResult, status: readonly FunctionStatus[], fx?: ImageEffects): Map<number, Reason> {
  const out = new Map<number, Reason>();
  for (const c of findEntryArgumentChanges(m, status, fx)) if (!out.has(c.culprit.index)) out.set(c.culprit.index, describeEntryArgumentChange(c));
  return out;
}
