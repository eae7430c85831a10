/**
 * Audits the compiler's function diff against an independent one (bench/independent-diff.ts)
 * on corpus pairs: lists every function the independent method calls changed, added or
 * removed that the compiler calls unchanged or pairs differently.
 *
 *   node bin/run-ts.js bench/true-change-audit.ts [LABEL...]   (default: the A, B, C pairs)
 */
import { readFileSync } from 'node:fs';
import { diffFiles } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { independentDiff } from './independent-diff.ts';

const hex = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `0x${v.toString(16)}`);
const labels = process.argv.slice(2);
const wanted = labels.length ? labels : ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'lcss-1.29.1-1.29.2'];
for (const label of wanted) {
  const p = realPairs().find((x) => x.label === label);
  if (p === undefined) throw new Error(`no pair ${label}`);
  const of = fetchRealFile(p.old);
  const nf = fetchRealFile(p.new);
  if (!of.ok || !nf.ok) throw new Error(`${label}: corpus file missing`);
  const ob = new Uint8Array(readFileSync(of.value));
  const nb = new Uint8Array(readFileSync(nf.value));
  const ind = independentDiff(ob, nb);
  const d = diffFiles(ob, nb);
  if (!d.ok) throw new Error(d.error.message);
  const tool = d.value;
  const byOld = new Map<number, (typeof tool.functions)[number]>(tool.functions.filter((f) => f.oldRva !== null).map((f) => [f.oldRva!, f]));
  const byNew = new Map<number, (typeof tool.functions)[number]>(tool.functions.filter((f) => f.newRva !== null).map((f) => [f.newRva!, f]));
  const changed = ind.pairs.filter((x) => x.status === 'changed');
  console.log(`## ${label}`);
  console.log(`tool: ${tool.counts.changed} changed / ${tool.counts.added} added / ${tool.counts.removed} removed; independent: ${changed.length} / ${ind.added.length} / ${ind.removed.length} (${ind.oldFns.length} -> ${ind.newFns.length} .pdata functions)`);
  const rows: string[] = [];
  const toolSays = (t: (typeof tool.functions)[number] | undefined): string => (t === undefined ? 'no such function' : `${t.status} ${hex(t.oldRva)} -> ${hex(t.newRva)}${t.verdict ? ` ${t.verdict}` : ''}${t.matchedBy ? ` by ${t.matchedBy}` : ''}`);
  for (const x of changed) {
    const t = byOld.get(x.old);
    if (t === undefined || t.status === 'unchanged' || t.newRva !== x.new) rows.push(`changed (${x.how}) ${hex(x.old)} -> ${hex(x.new)} | tool: ${toolSays(t)}`);
  }
  for (const a of ind.added) {
    const t = byNew.get(a);
    if (t === undefined || t.status !== 'added') rows.push(`added ${hex(a)} | tool: ${toolSays(t)}`);
  }
  for (const r of ind.removed) {
    const t = byOld.get(r);
    if (t === undefined || t.status !== 'removed') rows.push(`removed ${hex(r)} | tool: ${toolSays(t)}`);
  }
  // The other direction, for the record: the compiler's changes the independent method calls unchanged.
  const indByOld = new Map(ind.pairs.map((x) => [x.old, x]));
  const extra = tool.functions.filter((f) => f.status === 'changed' && indByOld.get(f.oldRva!)?.status === 'unchanged' && indByOld.get(f.oldRva!)?.new === f.newRva);
  // The stronger check: the compiler's own pairs, each compared by the independent form (function
  // references named through the compiler's pairing). A pair the compiler calls unchanged whose
  // independent forms differ is a candidate hidden change.
  const toolPairs = new Map<number, number>(tool.functions.filter((f) => f.oldRva !== null && f.newRva !== null).map((f) => [f.oldRva!, f.newRva!]));
  const under = independentDiff(ob, nb, toolPairs);
  for (const x of under.pairs) {
    if (x.status === 'changed' && byOld.get(x.old)?.status === 'unchanged') rows.push(`differs under the compiler's pairing ${hex(x.old)} -> ${hex(x.new)} | tool: ${toolSays(byOld.get(x.old))}`);
  }
  for (const r of rows) console.log(`- ${r}`);
  console.log(`(${rows.length} disagreements; ${extra.length} compiler changes the independent method calls unchanged: ${extra.map((f) => hex(f.oldRva)).join(' ')})`);
}
