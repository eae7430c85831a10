/**
 * Which volatile registers a call may clobber, transitively, in one of two worlds (for
 * caller-registers.ts):
 * - OLD: the old image as its compiler saw it: each function's own writes and its callees'.
 *   GCC's interprocedural register allocation (-fipa-ra, on at -O2) lets a caller keep
 *   values in every volatile register this set leaves out.
 * - PATCHED: the old image once the package runs: an old function whose counterpart changed
 *   runs its old body (threads already inside it) or its new one (through the redirect), so
 *   both bodies count, and a new body's callees are reached through the match (added
 *   functions as themselves). Counting every changed function as redirected over-approximates
 *   any subset a package carries.
 * An indirect call or jump (through an import, a pointer, a table this analysis did not
 * recognise) or a call to code no function owns may clobber every volatile register.
 * Callees come from the decoded references (no re-decoding); a function's own writes are
 * decoded (register-effects.ts) only when none of its callees is already "everything".
 */
import { FlowControl } from 'iced-x86';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import { ALL_VOLATILE } from './register-effects.ts';

/** A function's direct callees (direct calls, and jumps leaving it) and whether it has others. */
export interface Callees {
  readonly fns: readonly number[];
  readonly unknown: boolean;
}

/** The function `target` (an entry, or inside one) in `fns`, or undefined. */
export function functionAt(fns: FunctionTable, target: number): FunctionInfo | undefined {
  return fns.byEntry.get(target) ?? fns.containing(target);
}

/** Direct callees of `f` from its decoded instructions and references. */
export function calleesOf(fns: FunctionTable, f: FunctionInfo): Callees {
  const out = new Set<number>();
  let unknown = f.decoded.problems.length > 0;
  const inside = (t: number): boolean => f.ranges.some((r) => t >= r.start && t < r.end);
  const tables = new Set<number>(f.decoded.jumpTables.map((t) => t.jumpRva));
  for (const d of f.decoded.insns) {
    const fl = d.flow;
    if (fl === FlowControl.IndirectCall || (fl === FlowControl.IndirectBranch && !tables.has(d.rva))) {
      unknown = true;
      continue;
    }
    if (fl !== FlowControl.Call && fl !== FlowControl.UnconditionalBranch && fl !== FlowControl.ConditionalBranch) continue;
    let direct = false;
    for (let k = d.refIndex; k < d.refIndex + d.refCount; k++) {
      const r = f.decoded.refs[k]!;
      if (!r.isBranch || (r.kind !== 'rel32' && r.kind !== 'rel8')) continue;
      direct = true;
      if (fl !== FlowControl.Call && inside(r.target)) continue;
      const g = functionAt(fns, r.target);
      if (g === undefined) unknown = true;
      else if (g !== f) out.add(g.index);
    }
    if (!direct && fl === FlowControl.Call) unknown = true;
  }
  return { fns: [...out], unknown };
}

/** One call graph: a node's own writes (lazily), its successors and whether it has unknown ones. */
export interface ClobberGraph {
  own(node: number): number;
  succ(node: number): Callees;
}

/**
 * Transitive clobber sets over a call graph, computed on demand: the first query of a node
 * settles its whole downward closure (a fixed point, so recursion is covered) and caches it.
 */
export class ClobberSets {
  private readonly memo = new Map<number, number>();
  /** Each node's successors, asked once: the fixed points below go over them again and again (calleesOf re-reads a whole body). */
  private readonly succs = new Map<number, Callees>();
  constructor(private readonly g: ClobberGraph) {}

  private succ(y: number): Callees {
    let v = this.succs.get(y);
    if (v === undefined) this.succs.set(y, (v = this.g.succ(y)));
    return v;
  }

  get(x: number): number {
    const hit = this.memo.get(x);
    if (hit !== undefined) return hit;
    // The unsettled closure, in discovery order (callers before callees).
    const nodes: number[] = [];
    const seen = new Set<number>();
    const stack = [x];
    while (stack.length > 0) {
      const y = stack.pop()!;
      if (seen.has(y) || this.memo.has(y)) continue;
      seen.add(y);
      nodes.push(y);
      for (const s of this.succ(y).fns) stack.push(s);
    }
    // Nodes that reach an unknown callee clobber everything: no need to decode them.
    const all = new Set<number>();
    const isAll = (s: number): boolean => all.has(s) || this.memo.get(s) === ALL_VOLATILE;
    for (let changed = true; changed; ) {
      changed = false;
      for (let k = nodes.length - 1; k >= 0; k--) {
        const y = nodes[k]!;
        if (all.has(y) || !(this.succ(y).unknown || this.succ(y).fns.some(isAll))) continue;
        all.add(y);
        changed = true;
      }
    }
    // The others: own writes, then a fixed point over the callees'.
    const val = new Map<number, number>();
    for (const y of nodes) val.set(y, all.has(y) ? ALL_VOLATILE : this.g.own(y));
    for (let changed = true; changed; ) {
      changed = false;
      for (let k = nodes.length - 1; k >= 0; k--) {
        const y = nodes[k]!;
        let v = val.get(y)!;
        for (const s of this.succ(y).fns) v |= this.memo.get(s) ?? val.get(s) ?? 0;
        if (v !== val.get(y)) {
          val.set(y, v);
          changed = true;
        }
      }
    }
    for (const y of nodes) {
      this.memo.set(y, val.get(y) ?? 0);
      this.succs.delete(y); // settled: never asked again
    }
    return this.memo.get(x)!;
  }
}
