import { readFileSync } from 'node:fs';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from './compiler/index.ts';
import { sealEmitted } from './compiler/emit/seal.ts';
import { encodePackage } from './formats/container.ts';
import type { HotpatchPackage } from './formats/package.ts';
import { benchKeys, corpusPairs, samplePairs } from './bench/pairs.ts';
import { completePackage } from './bench/complete-package.ts';
const wanted = process.argv.slice(2);
const budgets = (process.env.BUDGETS ?? '196608').split(',').map(Number);
const pairs = [...corpusPairs().filter((p) => ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'lcss-1.29.1-1.29.2', 'watcher-2.5.0-2.5.1'].includes(p.label)), ...samplePairs(process.cwd())].filter((p) => p.missing === null && (wanted.length === 0 || wanted.some((w) => p.label.startsWith(w))));
const key = (await benchKeys()).signingKey;
let lb = 0, la = 0, n = 0;
for (const pair of pairs) {
  const d = diffFiles(new Uint8Array(readFileSync(pair.oldPath)), new Uint8Array(readFileSync(pair.newPath)));
  if (!d.ok) { console.log(pair.label, d.error.code); continue; }
  let pkg: HotpatchPackage;
  if (d.value.hotpatchable) {
    const b = buildFromDiff(d.value, { moduleName: pair.moduleName, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) { console.log(pair.label, b.error.code); continue; }
    pkg = b.value.emitted.pkg;
  } else {
    const c = await completePackage(d.value, pair.moduleName, key);
    if (typeof c === 'string') { console.log(pair.label, c.slice(0, 100)); continue; }
    pkg = c.pkg;
  }
  const before = await encodePackage(pkg, { signingKey: key });
  const outs: string[] = [];
  let last = 0;
  for (const budget of budgets) {
    const t0 = performance.now();
    const s = await sealEmitted(d.value.match.old.img, { pkg } as never, { dictionaryBudget: budget });
    const ms = performance.now() - t0;
    if (!s.ok) { outs.push(`${budget}: ${s.error.code} ${s.error.message}`); continue; }
    const after = await encodePackage(s.value.pkg, { signingKey: key });
    const z = s.value.pkg.sealed;
    last = after.ok ? after.value.length : 0;
    outs.push(`${budget}: ${last} (${z === undefined ? 'not sealed' : `frame ${z.frame.length}, dict ${z.dictionary.reduce((a, r) => a + r.length, 0)} in ${z.dictionary.length}, relied ${s.value.pkg.target.reliedRanges.length}`}, ${ms.toFixed(0)} ms)`);
  }
  const b = before.ok ? before.value.length : 0;
  if (pair.label.includes('.') === false || true) { lb += Math.log(b); la += Math.log(last); n++; }
  console.log(`${pair.label}: before ${b}; ${outs.join('; ')}`);
}
console.log(`geomean before ${Math.exp(lb / n).toFixed(1)} after ${Math.exp(la / n).toFixed(1)} over ${n}`);
