/**
 * Evidence for the audit: the exact forms (independent-diff.ts) of paired functions, first
 * differing lines, each token with the address it resolves (`@rva`).
 *
 *   node bin/run-ts.js bench/true-change-explain.ts LABEL OLD_RVA... [--as-bytes]
 *
 * --as-bytes: unrelocated read-only dwords stay bytes (IndPair.equalEitherReading).
 */
import { readFileSync } from 'node:fs';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { independentDiff } from './independent-diff.ts';
import { diffFiles } from '../compiler/index.ts';
const asBytes = process.argv.includes('--as-bytes');
const [label, ...rvas] = process.argv.slice(2).filter((a) => a !== '--as-bytes');
const p = realPairs().find((x) => x.label === label)!;
const ob = new Uint8Array(readFileSync((fetchRealFile(p.old) as { value: string }).value));
const nb = new Uint8Array(readFileSync((fetchRealFile(p.new) as { value: string }).value));
// Function tokens named through the compiler's pairing (the audit's stronger check).
const tool = diffFiles(ob, nb);
if (!tool.ok) throw new Error(tool.error.message);
const ind = independentDiff(ob, nb, new Map(tool.value.functions.filter((f) => f.oldRva !== null && f.newRva !== null).map((f) => [f.oldRva!, f.newRva!])));
const strip = (x: string): string => x.replace(/@[0-9a-f]+/g, '');
// HOTPATCH_EXPLAIN_AT=1 prints the differing lines with each token's address.
const shownAs = (x: string): string => (process.env.HOTPATCH_EXPLAIN_AT ? x : strip(x));
for (const r of rvas) {
  const f = ind.forms(parseInt(r, 16), asBytes);
  if (!f) {
    console.log(r, 'unpaired');
    continue;
  }
  console.log('###', r, f.old.length, f.new.length);
  let shown = 0;
  for (let k = 0; k < Math.max(f.old.length, f.new.length) && shown < 3; k++) {
    const a = strip(f.old[k] ?? '');
    const b = strip(f.new[k] ?? '');
    if (a === b) continue;
    let c = 0;
    while (c < a.length && a[c] === b[c]) c++;
    const w = (x: string): string => x.slice(Math.max(0, c - 160), c + 160);
    console.log(`${k} O ${process.env.HOTPATCH_EXPLAIN_AT ? shownAs(f.old[k] ?? '') : w(a)}`);
    console.log(`${k} N ${process.env.HOTPATCH_EXPLAIN_AT ? shownAs(f.new[k] ?? '') : w(b)}`);
    shown++;
  }
}
