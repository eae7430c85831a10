/**
 * Identical code folding (MSVC /OPT:ICF, on in every release build; lld `--icf=all`): the
 * linker keeps one copy of functions whose bodies are equal, so one OLD address X is several
 * functions at once (f and g), and every caller and every pointer of each reaches X. When
 * NEW changes f only, NEW has f' and g apart. Redirecting X to f' would send every caller of
 * g, and every pointer to g a running process keeps, into f's new code: a wrong patch.
 *
 * The matcher pairs such a body with no name (match-images.ts, pairByNames) so that the
 * shapes pair it with the function whose code it still is (g: X stays, no redirect, and f's
 * callers move to the added f'); this check refuses a pairing that redirects X anyway. A
 * changed NEW function P whose OLD counterpart X is also, in NEW:
 * - another function N by name (X carries N's name: COFF symbols, exports), or
 * - an unnamed added function N whose exact normalised form equals X's (a stripped build:
 *   X's old body lives on as N),
 * is refused with FOLDED_FUNCTION_CHANGED, unless N's new form equals P's (both changed
 * alike: callers of either get the same code).
 */
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import { uniqueFunctionNames, type MatchResult } from '../match/match-images.ts';
import { describeNew } from './resolve-target.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';

/**
 * The other NEW functions OLD `x` also is: those carrying one of its names, and the unnamed
 * added ones whose exact form equals its own (`unnamedAdded`: by instruction count).
 */
function siblingsOf(m: MatchResult, x: FunctionInfo, p: FunctionInfo, names: ReadonlyMap<string, number>, unnamedAdded: ReadonlyMap<number, readonly FunctionInfo[]>): FunctionInfo[] {
  const newFns = m.new.fns.functions;
  const out = new Map<number, FunctionInfo>();
  for (const n of x.names) {
    const k = names.get(n);
    if (k !== undefined && k !== p.index) out.set(k, newFns[k]!);
  }
  const sameSize = unnamedAdded.get(x.decoded.insns.length);
  if (sameSize !== undefined) {
    for (const n of sameSize) {
      if (out.has(n.index)) continue;
      // Hashes first (each form written once, not once per changed function): equal forms hash equal.
      if (m.oldNorm.formHash(x, 'exact') === m.newNorm.formHash(n, 'exact') && m.oldNorm.sameForm(x, m.newNorm, n, 'exact')) out.set(n.index, n);
    }
  }
  return [...out.values()];
}

/** The FOLDED_FUNCTION_CHANGED reason of each changed NEW function (by index) whose old body is folded. */
export function foldedFunctionProblems(m: MatchResult, status: readonly FunctionStatus[]): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const newFns = m.new.fns.functions;
  const oldFns = m.old.fns.functions;
  if (!newFns.some((f) => status[f.index] === 'changed')) return out;
  const names = uniqueFunctionNames(newFns);
  // The unnamed added functions by instruction count (an equal form has as many), in NEW order.
  const unnamedAdded = new Map<number, FunctionInfo[]>();
  for (const f of newFns) {
    if (status[f.index] !== 'added' || f.names.length > 0) continue;
    const size = f.decoded.insns.length;
    const list = unnamedAdded.get(size);
    if (list === undefined) unnamedAdded.set(size, [f]);
    else list.push(f);
  }
  for (const p of newFns) {
    if (status[p.index] !== 'changed') continue;
    const o = m.fnNewToOld[p.index]!;
    if (o < 0) continue;
    const x = oldFns[o]!;
    const pForm = (): string => m.newNorm.functionForm(p, 'exact');
    const others = siblingsOf(m, x, p, names, unnamedAdded).filter((n) => m.newNorm.functionForm(n, 'exact') !== pForm());
    if (others.length === 0) continue;
    const xName = x.names.length > 0 ? `${hex(x.entry)} (${x.names.join(', ')})` : hex(x.entry);
    const list = others.map((n) => `${describeNew(m, n.entry)} at ${hex(n.entry)}`).join(', ');
    // Without a shared name, an exact equal body is a fold, or a pairing no name confirms.
    const how = others.some((n) => n.names.some((k) => x.names.includes(k))) ? 'identical code folding' : 'its exact old body: identical code folding, or its pairing with the changed function is wrong';
    out.set(
      p.index,
      reason(
        'FOLDED_FUNCTION_CHANGED',
        `old ${xName} is both the changed ${describeNew(m, p.entry)} and, in NEW, ${list} (${how}): a redirect at it would send every caller of ${list}, and every pointer to it, into the changed code`,
        p.entry,
      ),
    );
  }
  return out;
}
