// The sha256 of what the compiler outputs for a pair: the `hotpatch diff --json` document
// (cli/commands/diff.ts's diffJson, printed as the CLI prints it), the strict package and the
// --skip-refused package (or the refusal), one line each. Covers every sample scenario step
// (gcc and clang, with symbols and stripped) and the real pairs A-D of
// samples/real/manifest.json (sharp 0.34.4->0.34.5, sharp 0.34.3->0.34.4, lightningcss
// 1.29.1->1.29.2, watcher 2.5.0->2.5.1). Run it before and after a change that must not move
// the compiler's output (a type-only refactor, a speed-up) and diff the two:
//   node bin/run-ts.js scripts/compiler-output-hashes.ts [--samples-only | --real-only] > before.txt
// scripts/sample-package-hashes.ts pins only the samples' package bytes, one build per line.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { diffJson } from '../cli/commands/diff.ts';
import { toJson } from '../cli/command.ts';
import { buildFromDiff, diffFiles } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { sampleSteps } from './sample-steps.ts';

/** The real pairs A-D of the issue tracker's reports (labels of samples/real/manifest.json). */
const REAL_LABELS = ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'lcss-1.29.1-1.29.2', 'watcher-2.5.0-2.5.1'];

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

async function hashPair(label: string, oldBytes: Uint8Array, newBytes: Uint8Array, moduleName: string): Promise<void> {
  const d = diffFiles(oldBytes, newBytes);
  if (!d.ok) {
    console.log(`${label} diff: ${d.error.code}: ${d.error.message}`);
    return;
  }
  console.log(`${label} diff: ${sha(`${toJson(diffJson(d.value, oldBytes.length, newBytes.length))}\n`)}`);
  for (const skipRefused of [false, true]) {
    const r = buildFromDiff(d.value, { moduleName, skipRefused, series: null, compilerVersion: 'compiler-output-hashes' });
    let h: string;
    if (!r.ok) h = `${r.error.code}: ${r.error.message}`;
    else {
      const e = await encodePackage(r.value.emitted.pkg);
      h = e.ok ? sha(e.value) : e.error.code;
    }
    console.log(`${label} skip=${skipRefused}: ${h}`);
  }
}

const only = process.argv[2];
if (only !== undefined && only !== '--samples-only' && only !== '--real-only') {
  console.error(`compiler-output-hashes: unknown option ${only} (--samples-only or --real-only)`);
  process.exit(2);
}

if (only !== '--real-only') {
  for (const { label, moduleName, files } of sampleSteps()) {
    if (files === null) console.log(`${label}: missing (npm run samples:build)`);
    else await hashPair(label, new Uint8Array(readFileSync(files.old)), new Uint8Array(readFileSync(files.new)), moduleName);
  }
}

if (only !== '--samples-only') {
  for (const label of REAL_LABELS) {
    const pair = realPairs().find((p) => p.label === label);
    const o = pair === undefined ? null : fetchRealFile(pair.old);
    const n = pair === undefined ? null : fetchRealFile(pair.new);
    if (o === null || n === null) console.log(`${label}: not in samples/real/manifest.json`);
    else if (!o.ok || !n.ok) console.log(`${label}: unavailable (${!o.ok ? o.error.message : !n.ok ? n.error.message : ''})`);
    else await hashPair(label, new Uint8Array(readFileSync(o.value)), new Uint8Array(readFileSync(n.value)), label);
  }
}
