/**
 * Why a real pair's --skip-refused package carries few of its changes: the functions refused
 * per reason code, what the left-old rule (compiler/diff/left-old.ts) leaves out on top and
 * through which kind of edge, and per code two counterfactuals on the diff (refusals lifted on
 * paper, the left-old closure recomputed; emission's own drops not modelled, so the figures
 * are the diff's, not a package's): "lifting it alone" (that code's refusals, with the
 * exception-handling groups only it refuses, made hotpatchable) and "only X kept" (every other
 * function refusal lifted; what X alone keeps out). Exploratory: nothing here is ever built.
 * `node bin/run-ts.js bench/refusal-classes.ts LABEL...` (labels of samples/real/manifest.json).
 */
import { readFileSync } from 'node:fs';
import { diffFiles, type FunctionChange, type ImageDiff } from '../compiler/index.ts';
import { leftOldNeighbours } from '../compiler/diff/left-old.ts';
import { realPairs, fetchRealFile } from '../samples/real/real-files.ts';

function closure(diff: ImageDiff, verdictOf: Map<number, FunctionChange>): Map<number, string> {
  const dropped = new Map<number, string>();
  const removedActive = diff.functions.filter((f) => f.status === 'removed' && f.verdict === 'refused' && f.oldIndex !== null).map((f) => f.oldIndex!);
  for (;;) {
    const more = leftOldNeighbours(diff.match, verdictOf, removedActive, dropped);
    let grew = false;
    for (const [k, why] of more) for (const g of [k, ...(diff.ehGroupOf.get(k) ?? [])]) if (!dropped.has(g)) { dropped.set(g, why); grew = true; }
    if (!grew) return dropped;
  }
}
function carried(diff: ImageDiff, verdictOf: Map<number, FunctionChange>): { carried: number; redirects: number; dropped: Map<number, string> } {
  const dropped = closure(diff, verdictOf);
  let c = 0, r = 0;
  for (const [k, f] of verdictOf) if ((f.status === 'changed' || f.status === 'added') && f.verdict === 'hotpatchable' && !dropped.has(k)) { c++; if (f.status === 'changed') r++; }
  return { carried: c, redirects: r, dropped };
}
const PROPAGATED = new Set(['EH_GROUP_MEMBER_REFUSED', 'CARRIED_WITH_EH_GROUP', 'EH_NAMES_CHANGED_SHARED_FUNCLET']);
for (const label of process.argv.slice(2)) {
  const p = realPairs().find((x) => x.label === label)!;
  const o = fetchRealFile(p.old), n = fetchRealFile(p.new);
  if (!o.ok || !n.ok) { console.log(label, 'missing'); continue; }
  const t0 = Date.now();
  const d = diffFiles(new Uint8Array(readFileSync(o.value)), new Uint8Array(readFileSync(n.value)));
  if (!d.ok) { console.log(label, d.error.message); continue; }
  const diff = d.value;
  const fs = diff.functions;
  const byCode = new Map<string, FunctionChange[]>();
  for (const f of fs) if (f.verdict === 'refused') { const c = f.reason?.code ?? '?'; byCode.set(c, [...(byCode.get(c) ?? []), f]); }
  const verdictOf = new Map<number, FunctionChange>(fs.filter((f) => f.newIndex !== null).map((f) => [f.newIndex!, f] as const));
  const base = carried(diff, verdictOf);
  const st = (s: string) => fs.filter((f) => f.status === s).length;
  console.log(`\n## ${label} (${((Date.now() - t0) / 1000).toFixed(0)} s): changed ${st('changed')} added ${st('added')} removed ${st('removed')}; refused ${fs.filter((f) => f.verdict === 'refused').length} (changed ${fs.filter((f) => f.verdict === 'refused' && f.status === 'changed').length}); left-old closure drops ${base.dropped.size}; carried ${base.carried} (changed ${base.redirects})`);
  // Left-old drops by first-level cause text class
  const why = new Map<string, number>();
  for (const [, w] of base.dropped) { const k = w.startsWith('old 0x') ? 'removed still active calls it' : w.startsWith('it references') ? 'references/referenced by left-old' : w.startsWith('unchanged') ? 'shared unchanged referrer' : w.startsWith('it and') ? 'shared writable data' : w.slice(0, 40); why.set(k, (why.get(k) ?? 0) + 1); }
  console.log('  left-old drops by edge kind:', JSON.stringify(Object.fromEntries(why)));
  const rows = [...byCode].sort((a, b) => b[1].length - a[1].length);
  for (const [code, list] of rows) {
    const lifted = new Set(list.filter((f) => f.newIndex !== null).map((f) => f.newIndex!));
    // EH_GROUP_MEMBER_REFUSED functions whose group has no directly refused member of another code
    if (!PROPAGATED.has(code)) for (const f of byCode.get('EH_GROUP_MEMBER_REFUSED') ?? []) {
      if (f.newIndex === null) continue;
      const grp = diff.ehGroupOf.get(f.newIndex) ?? [];
      const others = grp.map((g) => verdictOf.get(g)).filter((g) => g !== undefined && g.verdict === 'refused' && !PROPAGATED.has(g.reason?.code ?? ''));
      if (others.length > 0 && others.every((g) => g!.reason?.code === code)) lifted.add(f.newIndex);
    }
    const v2 = new Map(verdictOf);
    for (const k of lifted) { const f = v2.get(k)!; v2.set(k, { ...f, verdict: 'hotpatchable', reason: null }); }
    const alt = carried(diff, v2);
    const ch = list.filter((f) => f.status === 'changed').length;
    if (PROPAGATED.has(code)) {
      // A group member refused for another member's refusal cannot be lifted without it: see "only X kept".
      console.log(`  ${code}: ${list.length} refused (${ch} changed, ${list.filter((f) => f.status === 'added').length} added)`);
      continue;
    }
    console.log(`  ${code}: ${list.length} refused (${ch} changed, ${list.filter((f) => f.status === 'added').length} added, ${list.filter((f) => f.status === 'removed').length} removed); lifting it alone (+EH groups only it refuses, ${lifted.size} fns): carried ${base.carried} -> ${alt.carried}, redirects ${base.redirects} -> ${alt.redirects}`);
  }
  // Only X: every other refusal of a changed/added function lifted (EH-group refusals follow their root), X kept.
  const rootOf = (f: FunctionChange): string => {
    if (f.reason?.code !== 'EH_GROUP_MEMBER_REFUSED' || f.newIndex === null) return f.reason?.code ?? '?';
    const grp = diff.ehGroupOf.get(f.newIndex) ?? [];
    const r = grp.map((g) => verdictOf.get(g)).find((g) => g !== undefined && g.verdict === 'refused' && g.reason?.code !== 'EH_GROUP_MEMBER_REFUSED');
    return r?.reason?.code ?? 'EH_GROUP_MEMBER_REFUSED';
  };
  const none = new Map(verdictOf);
  for (const [k, f] of none) if (f.verdict === 'refused') none.set(k, { ...f, verdict: 'hotpatchable', reason: null });
  const allLifted = carried(diff, none);
  console.log(`  every function refusal lifted (left-old rule kept, removed-still-active roots kept): carried ${allLifted.carried}, redirects ${allLifted.redirects}`);
  const roots = new Map<string, number>();
  for (const f of fs) if (f.verdict === 'refused' && f.status !== 'removed') roots.set(rootOf(f), (roots.get(rootOf(f)) ?? 0) + 1);
  for (const [code, cnt] of [...roots].sort((a, b) => b[1] - a[1])) {
    const v = new Map(verdictOf);
    for (const [k, f] of v) if (f.verdict === 'refused' && rootOf(f) !== code) v.set(k, { ...f, verdict: 'hotpatchable', reason: null });
    const r = carried(diff, v);
    console.log(`  only ${code} kept (${cnt} refused with it as root): carried ${r.carried}, redirects ${r.redirects} (it alone keeps out ${allLifted.carried - r.carried} carried, ${allLifted.redirects - r.redirects} redirects)`);
  }
  // lifting left-old entirely
  const all = new Map(verdictOf);
  console.log(`  without left-old rule: carried ${[...all.values()].filter((f) => (f.status === 'changed' || f.status === 'added') && f.verdict === 'hotpatchable').length}`);
  const pat = (m: string) => m.replace(/0x[0-9a-f]+/g, 'X').replace(/[+-]?\d+/g, 'N').slice(0, 110);
  for (const code of ['CODE_NOT_UNDERSTOOD', 'EH_GROUP_MEMBER_REFUSED', 'UNRESOLVED_REFERENCE']) {
    const h = new Map<string, number>();
    for (const f of byCode.get(code) ?? []) { const k = pat(f.reason?.message ?? ''); h.set(k, (h.get(k) ?? 0) + 1); }
    console.log(`  patterns ${code}:`, [...h].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${v}x ${k}`).join('\n      '));
  }
  // examples per code
  for (const [code, list] of rows) console.log(`  ex ${code}: ${list.slice(0, 3).map((f) => `${(f.oldRva ?? 0).toString(16)}->${(f.newRva ?? 0).toString(16)}: ${f.reason?.message.slice(0, 140)}`).join(' | ')}`);
}
