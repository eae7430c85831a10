/**
 * Evidence for the audit: the exact forms (independent-diff.ts) of paired functions, first
 * differing lines, each token with the address it resolves (`@rva`).
 *
 *   node bin/run-ts.js bench/true-change-explain.ts LABEL OLD_RVA...
 */
import { readFileSync } from 'node:fs';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { independentDiff } from './independent-diff.ts';
const [label, ...rvas] = process.argv.slice(2);
const p = realPairs().find((x) => x.label === label)!;
const ob = new Uint8Array(readFileSync((fetchRealFile(p.old) as { value: string }).value));
const nb = new Uint8Array(readFileSync((fetchRealFile(p.new) as { value: string }).value));
const ind = independentDiff(ob, nb);
const strip = (s: string) => s.replace(/@[0-9a-f]+/g, '').replace(/S:\d+/g, 'S');
for (const r of rvas) {
  const f = ind.forms(parseInt(r, 16));
  if (!f) { console.log(r, 'unpaired'); continue; }
  console.log('###', r, f.old.length, f.new.length);
  const m = Math.max(f.old.length, f.new.length);
  let shown = 0;
  for (let k = 0; k < m && shown < 6; k++) if (strip(f.old[k] ?? '') !== strip(f.new[k] ?? '')) { console.log(k, 'O', f.old[k]); console.log(k, 'N', f.new[k]); shown++; }
}
