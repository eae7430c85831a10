/**
 * Audits the compiler's function diff against an independent one (bench/independent-diff.ts)
 * on corpus pairs: every function the independent method calls changed that the compiler
 * calls unchanged (bench/true-change-check.ts), under both pairings, each marked explained
 * (every instruction equal under one reading of unrelocated read-only dwords: guessed RVAs
 * or bytes) or a hidden change; and the other
 * direction, for the record. `test/true-change-audit.test.ts` pins A and B.
 *
 *   node bin/run-ts.js bench/true-change-audit.ts [LABEL...]   (default: the A, B, C pairs)
 */
import { readFileSync } from 'node:fs';
import { diffFiles } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { checkTrueChange, describeDisagreement, independentViews } from './true-change-check.ts';

const hex = (v: number): string => `0x${v.toString(16)}`;
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
  const d = diffFiles(ob, nb);
  if (!d.ok) throw new Error(d.error.message);
  const tool = d.value;
  const c = checkTrueChange(tool, independentViews(ob, nb, tool));
  console.log(`## ${label}`);
  console.log(`tool: ${tool.counts.changed} changed / ${tool.counts.added} added / ${tool.counts.removed} removed; independent: ${c.independent.changed} / ${c.independent.added} / ${c.independent.removed}`);
  for (const x of c.disagreements) console.log(`- ${describeDisagreement(x)}`);
  const hidden = c.disagreements.filter((x) => !x.equalEitherReading).length;
  console.log(`(${c.disagreements.length} disagreements, ${hidden} hidden; ${c.extraChanges.length} compiler changes the independent method calls unchanged: ${c.extraChanges.map(hex).join(' ')})`);
}
