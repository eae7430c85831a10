/**
 * Exception-handling groups of NEW: a parent function and the funclets only its handler
 * data names travel together (carried together or refused together).
 */
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { MatchResult } from '../match/match-images.ts';

/** The groups and the funclets outside them. */
export interface EhGroups {
  readonly groups: number[][];
  /** Function index -> every member of its group (itself included). */
  readonly groupOf: Map<number, number[]>;
  /** Private funclets no code references: carried with their group, never redirected. */
  readonly noRedirect: Set<number>;
  /** Funclets named by several roots -> how many. */
  readonly shared: Map<number, number>;
  /** For each function with data, the shared funclets it names. */
  readonly namesShared: Map<number, number[]>;
  /** Functions whose data names them as funclets of no root this analysis found. */
  readonly orphans: Set<number>;
  /** Every funclet: private, shared or orphan (they run on their parent's frame). */
  readonly funclets: Set<number>;
}

/**
 * Exception-handling groups of NEW. A root is a function with MSVC handler data that does not
 * name itself as a funclet; its group is it plus the funclets only its data names (catch
 * blocks, unwind actions, filters: they run on its frame). A funclet named by several roots
 * (identical funclets folded by the linker) belongs to no group: it stays where it is while
 * unchanged, and a change to it is refused (old frames of its other parents would run it).
 * `namesShared`: for each function with data, the shared funclets it names; `orphans`:
 * functions whose data names them as funclets of no root this analysis found.
 */
export function ehGroups(m: MatchResult): EhGroups {
  const fns = m.new.fns;
  const namesOf = new Map<number, Set<number>>();
  const roots = new Set<number>();
  const withData = new Set<number>();
  for (const f of fns.functions) {
    for (const rf of f.pdata) {
      const hd = parseHandlerData(m.new.img, fns, f, rf);
      if (hd?.kind !== 'msvc') continue;
      withData.add(f.index);
      const list = namesOf.get(f.index) ?? new Set<number>();
      let self = false;
      for (const e of hd.data.funclets) {
        const g = fns.containing(e);
        if (g === undefined) continue;
        if (g === f) self = true;
        else list.add(g.index);
      }
      namesOf.set(f.index, list);
      if (!self) roots.add(f.index);
    }
  }
  // A function that is a root in one entry and a funclet in another is not a root.
  for (const f of fns.functions) {
    if (!roots.has(f.index)) continue;
    for (const rf of f.pdata) {
      const hd = parseHandlerData(m.new.img, fns, f, rf);
      if (hd?.kind === 'msvc' && hd.data.funclets.some((e) => fns.containing(e) === f)) roots.delete(f.index);
    }
  }
  const namedBy = new Map<number, number[]>();
  for (const r of roots) for (const g of namesOf.get(r) ?? []) namedBy.set(g, [...(namedBy.get(g) ?? []), r]);
  const shared = new Map<number, number>();
  const groupMembers = new Map<number, number[]>();
  for (const [g, by] of namedBy) {
    if (by.length === 1 && !roots.has(g)) groupMembers.set(by[0]!, [...(groupMembers.get(by[0]!) ?? [by[0]!]), g]);
    else shared.set(g, by.length);
  }
  const groups = [...groupMembers.values()].map((g) => [...new Set(g)].sort((a, b) => a - b));
  const groupOf = new Map<number, number[]>();
  for (const g of groups) for (const k of g) groupOf.set(k, g);
  const namesShared = new Map<number, number[]>();
  for (const [k, list] of namesOf) {
    const sh = [...list].filter((g) => shared.has(g));
    if (sh.length > 0) namesShared.set(k, sh);
  }
  const orphans = new Set([...withData].filter((k) => !roots.has(k) && !groupOf.has(k) && !shared.has(k)));
  const privateFunclets = new Set([...groupOf.keys()].filter((k) => !roots.has(k)));
  const referenced = new Set<number>();
  for (const f of fns.functions) {
    for (const r of f.decoded.refs) {
      const g = fns.containing(r.target);
      if (g !== undefined && g !== f && privateFunclets.has(g.index)) referenced.add(g.index);
    }
  }
  const noRedirect = new Set([...privateFunclets].filter((k) => !referenced.has(k)));
  const funclets = new Set([...privateFunclets, ...shared.keys(), ...orphans]);
  return { groups, groupOf, noRedirect, shared, namesShared, orphans, funclets };
}
