/**
 * Census of what the function analysis cannot follow on real pairs: every decode problem of
 * every discovered function of OLD and NEW (findFunctions), grouped by kind, with examples,
 * and the diff's CODE_NOT_UNDERSTOOD refusals grouped the same way.
 * `node bin/run-ts.js bench/code-census.ts LABEL...` (labels of samples/real/manifest.json).
 * With `--no-diff` only the per-image census runs. Exploratory: nothing here is built or kept.
 */
import { readFileSync } from 'node:fs';
import { diffFiles, findFunctions } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const kindOf = (m: string): string => m.replace(/0x[0-9a-f]+/g, 'X').replace(/\(\d+ bytes\)/, '(N bytes)');
const args = process.argv.slice(2);
const noDiff = args.includes('--no-diff');
for (const label of args.filter((a) => !a.startsWith('--'))) {
  const p = realPairs().find((x) => x.label === label);
  if (p === undefined) { console.log(label, 'no such pair'); continue; }
  const o = fetchRealFile(p.old), n = fetchRealFile(p.new);
  if (!o.ok || !n.ok) { console.log(label, 'missing'); continue; }
  const files = { old: new Uint8Array(readFileSync(o.value)), new: new Uint8Array(readFileSync(n.value)) };
  console.log(`\n## ${label}`);
  for (const side of ['old', 'new'] as const) {
    const t = findFunctions(files[side]);
    if (!t.ok) { console.log(side, t.error.message); continue; }
    const groups = new Map<string, string[]>();
    let fns = 0;
    for (const f of t.value.functions) {
      if (f.decoded.problems.length === 0) continue;
      fns++;
      for (const m of f.decoded.problems) { const k = kindOf(m); groups.set(k, [...(groups.get(k) ?? []), `fn 0x${f.entry.toString(16)} [${f.sources.join(',')}]: ${m}`]); }
    }
    console.log(`${side}: ${t.value.functions.length} functions, ${fns} with problems`);
    for (const [k, list] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
      console.log(`  ${list.length}x ${k}`);
      for (const e of list.slice(0, 4)) console.log(`      ${e}`);
    }
  }
  if (noDiff) continue;
  const d = diffFiles(files.old, files.new);
  if (!d.ok) { console.log(d.error.message); continue; }
  const fs = d.value.functions;
  const byCode = new Map<string, number>();
  for (const f of fs) if (f.verdict === 'refused') byCode.set(f.reason?.code ?? '?', (byCode.get(f.reason?.code ?? '?') ?? 0) + 1);
  console.log(`diff: refused ${fs.filter((f) => f.verdict === 'refused').length}; ${[...byCode].sort((a, b) => b[1] - a[1]).map(([c, v]) => `${c} ${v}`).join(', ')}`);
  const h = new Map<string, string[]>();
  for (const f of fs) if (f.reason?.code === 'CODE_NOT_UNDERSTOOD') { const k = kindOf(f.reason.message); h.set(k, [...(h.get(k) ?? []), `${f.status} ${(f.oldRva ?? 0).toString(16)}->${(f.newRva ?? 0).toString(16)}: ${f.reason.message}`]); }
  for (const [k, list] of [...h].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  CNU ${list.length}x ${k}`);
    for (const e of list.slice(0, 3)) console.log(`      ${e}`);
  }
}
