/**
 * What sealing (format 2.2, compiler/emit/seal.ts) does to package sizes, before and after in
 * one run: each pair built as bench/size-breakdown.ts builds it (the verified package, or the
 * complete package of a pair the compiler refuses in part, left unsealed),
 * then sealed with each dictionary budget in BUDGETS (bytes, comma-separated; default 196608,
 * capped at ZSTD_MAX_DICTIONARY). Prints the signed file sizes, the frame, the dictionary and
 * the time sealing took, and the geometric means.
 * `node bin/run-ts.js bench/seal-sizes.ts [LABEL...]` (default: sharp A/B, lcss C, watcher D and
 * every sample).
 */
import { sealPackage } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { benchKeys, corpusPairs, samplePairs } from './pairs.ts';
import { pairPackage } from './complete-package.ts';
const wanted = process.argv.slice(2);
const budgets = (process.env.BUDGETS ?? '196608').split(',').map(Number);
const pairs = [...corpusPairs().filter((p) => ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'lcss-1.29.1-1.29.2', 'watcher-2.5.0-2.5.1'].includes(p.label)), ...samplePairs(process.cwd())].filter((p) => p.missing === null && (wanted.length === 0 || wanted.some((w) => p.label.startsWith(w))));
const key = (await benchKeys()).signingKey;
let lb = 0, la = 0, n = 0;
for (const pair of pairs) {
  const built = await pairPackage(pair, key, false);
  if (typeof built === 'string') { console.log(pair.label, built); continue; }
  const pkg = built.pkg;
  const before = await encodePackage(pkg, { signingKey: key });
  const outs: string[] = [];
  let last = 0;
  for (const budget of budgets) {
    const t0 = performance.now();
    const s = await sealPackage(built.diff.match.old.img, pkg, { dictionaryBudget: budget });
    const ms = performance.now() - t0;
    if (!s.ok) { outs.push(`${budget}: ${s.error.code} ${s.error.message}`); continue; }
    const after = await encodePackage(s.value, { signingKey: key });
    const z = s.value.sealed;
    last = after.ok ? after.value.length : 0;
    outs.push(`${budget}: ${last} (${z === undefined ? 'not sealed' : `frame ${z.frame.length}, dict ${z.dictionary.reduce((a, r) => a + r.length, 0)} in ${z.dictionary.length}, relied ${s.value.target.reliedRanges.length}`}, ${ms.toFixed(0)} ms)`);
  }
  const b = before.ok ? before.value.length : 0;
  lb += Math.log(b);
  la += Math.log(last);
  n++;
  console.log(`${pair.label}: before ${b}; ${outs.join('; ')}`);
}
console.log(`geomean before ${Math.exp(lb / n).toFixed(1)} after ${Math.exp(la / n).toFixed(1)} over ${n}`);
