/**
 * A walk over every decoded path of a body from its entry, carrying a state: the searches by
 * paths of argument-uses.ts (where each argument's value is) and frame-escape.ts (which
 * registers hold a frame address). An instruction reached again with a state that adds nothing
 * to the one it had ends that path; a return, an interrupt, an exception or a jump out of the
 * body ends it too; an indirect jump goes on at its table's targets.
 */
import { FlowControl } from 'iced-x86';

/** What the walk needs of one instruction. */
export interface PathStep {
  readonly next: number;
  readonly flow: FlowControl;
  /** A direct branch or call's target, or -1. */
  readonly target: number;
}

/**
 * Walks the paths of `code` (by RVA) from `entry` with state `start`. `meet(now, before)`: the
 * state where two paths meet, or null when `now` adds nothing to `before`. `visit(rva, e,
 * state)`: the state after the instruction, or null to end the path there.
 */
export function forwardPaths<S, E extends PathStep>(entry: number, code: ReadonlyMap<number, E>, tables: ReadonlyMap<number, readonly number[]>, start: S, meet: (now: S, before: S) => S | null, visit: (rva: number, e: E, state: S) => S | null): void {
  const seen = new Map<number, S>();
  const work: Array<readonly [number, S]> = [[entry, start]];
  while (work.length > 0) {
    let [rva, state] = work.pop()!;
    for (;;) {
      const e = code.get(rva);
      if (e === undefined) break;
      const before = seen.get(rva);
      if (before !== undefined) {
        const merged = meet(state, before);
        if (merged === null) break;
        state = merged;
      }
      seen.set(rva, state);
      const next = visit(rva, e, state);
      const fl = e.flow;
      if (next === null || fl === FlowControl.Return || fl === FlowControl.Interrupt || fl === FlowControl.Exception) break;
      if (fl === FlowControl.IndirectBranch) {
        for (const t of tables.get(rva) ?? []) work.push([t, next]);
        break;
      }
      if (fl === FlowControl.UnconditionalBranch || fl === FlowControl.ConditionalBranch) {
        if (e.target >= 0 && code.has(e.target)) work.push([e.target, next]);
        if (fl === FlowControl.UnconditionalBranch) break;
      }
      state = next;
      rva = e.next;
    }
  }
}
