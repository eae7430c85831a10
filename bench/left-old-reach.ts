/**
 * How far the left-old rule (compiler/diff/left-old.ts) is from values passed through the heap.
 * The rule leaves out a carried function that references, or is referenced by, a changed
 * function left old, or that one unchanged function references together with one (depth 1),
 * or that shares a named global with one. A value can also travel through heap memory: one
 * function stores it in an object, another, called from elsewhere, reads it. The only place
 * both meet in the code is an unchanged function from which both are reached through
 * unchanged callers. Per pair: the carried functions (the --skip-refused package's changed and
 * added ones) that share such an unchanged ancestor with a changed function left old, within
 * k levels of callers, and at any depth.
 *
 *   node bin/run-ts.js bench/left-old-reach.ts LABEL...
 */
import { readFileSync } from 'node:fs';
import { COMPILER_VERSION, diffFiles, emitPackage } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

for (const label of process.argv.slice(2)) {
  const pair = realPairs().find((p) => p.label === label);
  const o = pair === undefined ? null : fetchRealFile(pair.old);
  const n = pair === undefined ? null : fetchRealFile(pair.new);
  if (o === null || n === null || !o.ok || !n.ok) {
    console.log(`${label}: pair unavailable`);
    continue;
  }
  const d = diffFiles(new Uint8Array(readFileSync(o.value)), new Uint8Array(readFileSync(n.value)));
  if (!d.ok) {
    console.log(`${label}: ${d.error.message}`);
    continue;
  }
  const diff = d.value;
  const e = emitPackage(diff, { moduleName: 'x.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!e.ok) {
    console.log(`${label}: ${e.error.message}`);
    continue;
  }
  const fns = diff.match.new.fns.functions;
  const status = (i: number): string | undefined => diff.newStatus[i];
  const carried = [...e.value.blockOf.keys()].filter((i) => status(i) === 'changed' || status(i) === 'added');
  const carriedSet = new Set(carried);
  const leftOld = fns.map((f) => f.index).filter((i) => status(i) === 'changed' && !carriedSet.has(i));
  const callers = new Map<number, Set<number>>();
  for (const f of fns)
    for (const r of f.decoded.refs) {
      const g = diff.match.new.fns.containing(r.target);
      if (g === undefined || g === f) continue;
      const s = callers.get(g.index) ?? new Set<number>();
      s.add(f.index);
      callers.set(g.index, s);
    }
  // Unchanged functions that reach any of `starts` through unchanged callers, with their least depth.
  const ancestors = (starts: readonly number[]): Map<number, number> => {
    const dist = new Map<number, number>();
    const seen = new Set(starts);
    let frontier = [...starts];
    for (let k = 1; frontier.length > 0; k++) {
      const next: number[] = [];
      for (const x of frontier)
        for (const c of callers.get(x) ?? []) {
          if (seen.has(c) || status(c) !== 'unchanged') continue;
          seen.add(c);
          dist.set(c, k);
          next.push(c);
        }
      frontier = next;
    }
    return dist;
  };
  const ofLeftOld = ancestors(leftOld);
  const depth = carried.map((c) => {
    let best = Infinity;
    for (const [u, k] of ancestors([c])) {
      const j = ofLeftOld.get(u);
      if (j !== undefined) best = Math.min(best, Math.max(k, j));
    }
    return best;
  });
  const within = (k: number): number => depth.filter((x) => x <= k).length;
  console.log(
    `${label}: ${fns.length} functions, ${carried.length} carried, ${leftOld.length} changed left old; carried sharing an unchanged ancestor with one left old within 1 level: ${within(1)}, 2: ${within(2)}, 3: ${within(3)}, 5: ${within(5)}, any: ${within(Infinity)}`,
  );
}
