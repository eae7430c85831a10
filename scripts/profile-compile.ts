// Compiles one corpus pair N times in process and prints each run's diff / build / encode
// times, for a CPU profile of the compiler:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/run-ts.js scripts/profile-compile.ts [A|LABEL] [N]
// (the largest .cpuprofile written is the main thread's). Through tsx every function sits on
// line 1; for line-level ticks, profile the built dist/ (npm run build) instead.
import { readFileSync } from 'node:fs';
import { buildFromDiff, diffFiles } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { labelPrefix } from './corpus-letters.ts';

const prefix = labelPrefix(process.argv[2] ?? 'A');
const reps = Number(process.argv[3] ?? '3');
const p = realPairs().find((x) => x.label.startsWith(prefix));
if (p === undefined) throw new Error(`no corpus pair ${prefix}`);
const o = new Uint8Array(readFileSync(cachePath(p.old)));
const n = new Uint8Array(readFileSync(cachePath(p.new)));
for (let i = 0; i < reps; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const d = diffFiles(o, n);
  if (!d.ok) throw new Error(d.error.message);
  const t1 = performance.now();
  const b = buildFromDiff(d.value, { moduleName: 'profile.dll', skipRefused: !d.value.hotpatchable, series: null, compilerVersion: 'profile-compile' });
  if (!b.ok) throw new Error(b.error.message);
  const t2 = performance.now();
  await encodePackage(b.value.emitted.pkg);
  const t3 = performance.now();
  const c = process.cpuUsage(c0);
  console.error(`${p.label}: diff ${(t1 - t0).toFixed(0)} ms, build ${(t2 - t1).toFixed(0)} ms, encode ${(t3 - t2).toFixed(0)} ms, total ${(t3 - t0).toFixed(0)} ms, cpu ${((c.user + c.system) / 1000).toFixed(0)} ms`);
}
