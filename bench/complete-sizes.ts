/**
 * Package sizes only, quickly: the signed package of every sample step (as `npm run bench -- size`
 * builds it) and the complete package (bench/complete-package.ts) of every partial real pair
 * under 10 MB, with the floor and bsdiff of the last published size section
 * (bench/results/report.json; neither depends on the compiler's emission). For before/after
 * comparisons of emission and format changes without the whole size section:
 * `node bin/run-ts.js bench/complete-sizes.ts [samples] [real] [partial] [LABEL...]` (`partial`: each
 * real pair's signed, sealed `--skip-refused` package, as `hotpatch build` writes it, instead of
 * its complete package; with `real` too, both).
 */
import { readFileSync, statSync } from 'node:fs';
import { buildFromDiff, COMPILER_VERSION, diffFiles, sealBuilt, type ImageDiff } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { completePackage } from './complete-package.ts';
import { benchKeys, corpusPairs, samplePairs } from './pairs.ts';

interface Row { readonly label: string; readonly floor: number | null; readonly bsdiff: number | null }
const report = JSON.parse(readFileSync('bench/results/report.json', 'utf8')) as { sections: { size: { data: { rows: Row[] } } } };
const published = new Map(report.sections.size.data.rows.map((r) => [r.label, r] as const));
const args = process.argv.slice(2);
const doSamples = args.length === 0 || args.includes('samples');
const labels = args.filter((a) => a !== 'samples' && a !== 'real' && a !== 'partial');
const { signingKey } = await benchKeys();
const fmt = (x: number): string => x.toFixed(3);

/** The signed `--skip-refused` package as `hotpatch build` writes it (sealed when that pays), or why it failed. */
async function partialBytes(diff: ImageDiff, moduleName: string): Promise<number | string> {
  const b = buildFromDiff(diff, { moduleName, skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) return b.error.code;
  const s = await sealBuilt(b.value);
  if (!s.ok) return s.error.code;
  const enc = await encodePackage(s.value.emitted.pkg, { signingKey });
  return enc.ok ? enc.value.length : enc.error.code;
}

if (doSamples) {
  const logs: number[] = [];
  let total = 0;
  for (const pair of samplePairs(process.cwd())) {
    if (pair.missing !== null) continue;
    const d = diffFiles(new Uint8Array(readFileSync(pair.oldPath)), new Uint8Array(readFileSync(pair.newPath)));
    if (!d.ok) continue;
    const b = buildFromDiff(d.value, { moduleName: pair.moduleName, skipRefused: !d.value.hotpatchable, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) { console.log(`${pair.label}: ${b.error.code}`); continue; }
    const s = await sealBuilt(b.value);
    if (!s.ok) { console.log(`${pair.label}: ${s.error.code}`); continue; }
    const enc = await encodePackage(s.value.emitted.pkg, { signingKey });
    if (!enc.ok) continue;
    const floor = published.get(pair.label)?.floor ?? null;
    total += enc.value.length;
    if (floor !== null && floor > 0) logs.push(Math.log(enc.value.length / floor));
    if (args.includes('samples')) console.log(`${pair.label}\t${enc.value.length}\tfloor ${floor}`);
  }
  console.log(`samples: ${logs.length} pairs, total ${total} B, package/floor geometric mean ${fmt(Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length))}`);
}
if (args.length === 0 || args.includes('real') || args.includes('partial') || labels.length > 0) {
  for (const pair of corpusPairs()) {
    if (pair.missing !== null || statSync(pair.newPath).size > 10_000_000) continue;
    if (labels.length > 0 && !labels.some((l) => pair.label.startsWith(l))) continue;
    const d = diffFiles(new Uint8Array(readFileSync(pair.oldPath)), new Uint8Array(readFileSync(pair.newPath)));
    if (!d.ok || d.value.hotpatchable) continue;
    if (args.includes('partial')) console.log(`${pair.label}\tpartial ${await partialBytes(d.value, pair.moduleName)}`);
    if (args.includes('partial') && !args.includes('real')) continue;
    const c = await completePackage(d.value, pair.moduleName, signingKey);
    if (typeof c === 'string') { console.log(`${pair.label}: ${c}`); continue; }
    const p = published.get(pair.label);
    const r = (x: number | null | undefined): string => (x === null || x === undefined || x === 0 ? '-' : fmt(c.bytes / x));
    console.log(`${pair.label}\tcomplete ${c.bytes}\tfloor ${p?.floor}\tbsdiff ${p?.bsdiff}\tcomplete/floor ${r(p?.floor)}\tcomplete/bsdiff ${r(p?.bsdiff)}`);
  }
}
