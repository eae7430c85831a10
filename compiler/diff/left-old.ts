/**
 * What `--skip-refused` must never do: put new code next to a changed function it leaves old.
 *
 * A changed function that the package does not carry (refused, or dropped because it needs
 * something refused) keeps running its OLD body after the patch. Its NEW body differs, and
 * the difference may be the contract it has with the code around it: the layout or the
 * discriminant numbering of the values it takes, returns or builds, which a diff of code
 * cannot read from the function that only passes them on. A carried function that calls it,
 * or that it calls (old code calls the old entry, which is redirected to the new body), hands
 * it values it was never compiled with. rollup 4.64.7 -> 4.64.8 (SWC parser): the package
 * carried 183 of 885 changed functions and left the rest old; node.exe died in the first
 * workload round inside unchanged drop glue (0xbb6d0, 0xce360) fed enum values whose
 * encoding only new code knew; one carried function alone (0x3f6a0, calling changed 0x46340
 * left old) was enough to kill it.
 *
 * The rule: a carried changed or added function that references a changed function left old,
 * or is referenced by one, is left out too, and so on to a fixed point: a group of changed
 * functions that call each other goes in whole or not at all. An old function with no
 * counterpart that stays active (REMOVED_STILL_REACHABLE) counts as left old for the
 * functions its old body calls. Unchanged functions are the boundary: their old and new
 * bodies are the same code, so both sides agree with them.
 *
 * Values also pass through globals: old code left running may store a value in the form it
 * was compiled with (an old enum number, an old flag bit) that a carried function then reads
 * in the new form, or the reverse. So a carried function that uses the same writable data as
 * a changed function left old is left out as well. "The same" is the same named global (COFF
 * symbol, matched old to new); a global without a symbol has no extent the file justifies
 * (a stripped build's .data is one run of bytes between references), so there it is the
 * whole writable section. Not followed: values passed only through the heap, and the old
 * bodies of removed functions that stay active (their data is keyed through the new image).
 */
import type { FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { FunctionChange } from './types.ts';

const hex = (x: number): string => `0x${x.toString(16)}`;

/**
 * The writable data a function's body uses, as keys shared by both images: `item:N` for the
 * NEW item N of a named global, `section:NAME` for a global without a symbol. `toNew` maps an
 * item of `a` to the NEW item index (identity for the NEW image; unmatched OLD items yield
 * no key, as their data has no NEW counterpart to exchange values through). Each key maps to
 * a description for messages.
 */
export function writableDataKeys(a: ImageAnalysis, fn: FunctionInfo, toNew: (item: number) => number = (i) => i): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of fn.decoded.refs) {
    if (r.isBranch) continue;
    const d = a.itemAt(r.target);
    if (d === undefined || !d.writable) continue;
    if (d.name === null) {
      out.set(`section:${d.section}`, `section ${d.section} (no symbol gives the global an extent)`);
      continue;
    }
    const n = toNew(d.index);
    if (n >= 0) out.set(`item:${n}`, `global ${d.name}`);
  }
  return out;
}

/** writableDataKeys of a changed function left old: its OLD body (which keeps running) and its NEW one. */
export function leftOldDataKeys(m: MatchResult, newIndex: number): Map<string, string> {
  const keys = writableDataKeys(m.new, m.new.fns.functions[newIndex]!);
  const o = m.fnNewToOld[newIndex] ?? -1;
  if (o >= 0) for (const [k, v] of writableDataKeys(m.old, m.old.fns.functions[o]!, (i) => m.itemOldToNew[i] ?? -1)) keys.set(k, v);
  return keys;
}

/**
 * The NEW functions (index -> reason) to leave out besides `dropped`, because they would run
 * next to a changed function left old. `verdictOf` maps NEW index -> its FunctionChange;
 * `removedActive` lists the OLD indices of removed functions that stay active.
 */
export function leftOldNeighbours(m: MatchResult, verdictOf: ReadonlyMap<number, FunctionChange>, removedActive: readonly number[], dropped: ReadonlyMap<number, string>): Map<number, string> {
  const newFns = m.new.fns.functions;
  const out = new Map<number, string>();
  const isLeftOld = (k: number): boolean => {
    const c = verdictOf.get(k);
    return c?.status === 'changed' && (c.verdict === 'refused' || dropped.has(k) || out.has(k));
  };
  const isCarriable = (k: number): boolean => {
    const c = verdictOf.get(k);
    return (c?.status === 'changed' || c?.status === 'added') && c.verdict === 'hotpatchable' && !dropped.has(k) && !out.has(k);
  };
  // Undirected edges among non-unchanged NEW functions (references of code, either way).
  const edges = new Map<number, Set<number>>();
  const link = (a: number, b: number): void => {
    if (a === b) return;
    for (const [x, y] of [[a, b], [b, a]] as const) {
      const s = edges.get(x) ?? new Set<number>();
      s.add(y);
      edges.set(x, s);
    }
  };
  const touched = (k: number): boolean => {
    const st = verdictOf.get(k)?.status;
    return st === 'changed' || st === 'added';
  };
  // An unchanged function referencing several changed or added ones passes values between
  // them (one's result as another's argument): touched function -> its unchanged referrers,
  // unchanged function -> the touched functions it references.
  const unchangedReferrers = new Map<number, number[]>();
  const touchedRefs = new Map<number, Set<number>>();
  for (const f of newFns) {
    for (const r of f.decoded.refs) {
      const g = m.new.fns.containing(r.target);
      if (g === undefined || g === f || !touched(g.index)) continue;
      if (touched(f.index)) link(f.index, g.index);
      else {
        const s = touchedRefs.get(f.index) ?? new Set<number>();
        if (s.size === 0) touchedRefs.set(f.index, s);
        if (s.has(g.index)) continue;
        s.add(g.index);
        const u = unchangedReferrers.get(g.index) ?? [];
        u.push(f.index);
        unchangedReferrers.set(g.index, u);
      }
    }
  }
  // Writable data key -> the carriable functions that use it (the left-old side is keyed when
  // it is taken off the queue).
  const users = new Map<string, number[]>();
  for (const [k] of verdictOf) {
    if (!isCarriable(k)) continue;
    for (const key of writableDataKeys(m.new, newFns[k]!).keys()) {
      const u = users.get(key) ?? [];
      u.push(k);
      users.set(key, u);
    }
  }
  const keysDone = new Set<string>();
  const queue: number[] = [];
  const leave = (k: number, why: string): void => {
    if (!isCarriable(k)) return;
    out.set(k, why);
    queue.push(k);
  };
  // Old bodies of removed functions that stay active call the old entries of their callees:
  // a redirected callee would get values made by old code.
  for (const o of removedActive) {
    const of = m.old.fns.functions[o]!;
    for (const r of of.decoded.refs) {
      const g = m.old.fns.containing(r.target);
      if (g === undefined) continue;
      const n = m.fnOldToNew[g.index]!;
      if (n >= 0) leave(n, `old ${hex(of.entry)}, removed but still active, calls it (${hex(r.insnRva)}): new code would take values from old code`);
    }
  }
  for (const [k] of verdictOf) if (isLeftOld(k)) queue.push(k);
  while (queue.length > 0) {
    const k = queue.pop()!;
    const at = newFns[k]!.entry;
    const atName = newFns[k]!.name ?? hex(at);
    for (const g of edges.get(k) ?? []) {
      leave(g, `it references, or is referenced by, ${atName}, which stays old (changed, not carried): new code would exchange values with old code that may expect other layouts or encodings`);
    }
    for (const u of unchangedReferrers.get(k) ?? []) {
      const uf = newFns[u]!;
      for (const g of touchedRefs.get(u) ?? []) {
        leave(g, `unchanged ${uf.name ?? hex(uf.entry)} references both it and ${atName}, which stays old (changed, not carried), and may pass values from one to the other`);
      }
    }
    // Only changed functions keep running old code; an added function left out runs nothing.
    if (verdictOf.get(k)?.status !== 'changed') continue;
    for (const [key, what] of leftOldDataKeys(m, k)) {
      if (keysDone.has(key)) continue;
      keysDone.add(key);
      for (const g of users.get(key) ?? []) {
        leave(g, `it and ${atName}, which stays old (changed, not carried), both use writable ${what}: old code may store values there in a form new code does not expect, or read new code's values in the old one`);
      }
    }
  }
  return out;
}
