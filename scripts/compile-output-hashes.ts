// The sha256 of what the compiler outputs for real corpus pairs: `hotpatch diff --json` (the
// same diffJson document, serialised as the CLI does), the diff's text, and the package bytes
// built as the bench does (--skip-refused when a change is refused; unsigned: Ed25519 is
// deterministic, so a signed package differs only where the unsigned one does), with the
// verifier's counts. Run it before and after a change that must not move the compiler's output
// (a speed-up) and diff the two:
//   node bin/run-ts.js scripts/compile-output-hashes.ts [A B C D E | LABEL-PREFIX...] > before.txt
// Default: pairs A-D of issue #14 (sharp 0.34.4->0.34.5, sharp 0.34.3->0.34.4, lcss 1.29.1->
// 1.29.2, watcher 2.5.0->2.5.1); E is esbuild 0.25.11->0.25.12 (10 MB, slow). Each line also
// gives the compile time (diff + build), which is informative only and not part of the hash.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { diffJson, diffText } from '../cli/commands/diff.ts';
import { buildFromDiff, diffFiles } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { labelPrefix } from './corpus-letters.ts';


const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

const wanted = process.argv.slice(2);
const prefixes = (wanted.length === 0 ? ['A', 'B', 'C', 'D'] : wanted).map((w) => labelPrefix(w));
for (const prefix of prefixes) {
  for (const p of realPairs().filter((x) => x.label.startsWith(prefix))) {
    const oldPath = cachePath(p.old);
    const newPath = cachePath(p.new);
    if (!existsSync(oldPath) || !existsSync(newPath)) {
      console.log(`${p.label}: missing (npm run samples:fetch)`);
      continue;
    }
    const o = new Uint8Array(readFileSync(oldPath));
    const n = new Uint8Array(readFileSync(newPath));
    const t0 = performance.now();
    const d = diffFiles(o, n);
    if (!d.ok) {
      console.log(`${p.label}: diff ${d.error.code}: ${d.error.message}`);
      continue;
    }
    const json = sha(JSON.stringify(diffJson(d.value, o.length, n.length), null, 2));
    const text = sha(diffText(d.value));
    const b = buildFromDiff(d.value, { moduleName: p.label, skipRefused: !d.value.hotpatchable, series: null, compilerVersion: 'compile-output-hashes' });
    let pkg: string;
    if (!b.ok) pkg = `build ${b.error.code}: ${b.error.message}`;
    else {
      const e = await encodePackage(b.value.emitted.pkg);
      pkg = e.ok ? `${sha(e.value)} verified=${sha(JSON.stringify(b.value.verified))}` : `encode ${e.error.code}`;
    }
    const ms = Math.round(performance.now() - t0);
    console.log(`${p.label}: diff-json=${json} diff-text=${text} package=${pkg}`);
    console.error(`  ${p.label}: ${ms} ms`);
  }
}
