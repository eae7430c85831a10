// The sha256 of the package built from every sample scenario step (gcc and clang, with
// symbols and stripped, strict and --skip-refused), or the refusal: one line each. Run it
// before and after a change that must not move the compiler's output and diff the two:
//   node bin/run-ts.js scripts/sample-package-hashes.ts > before.txt
// The golden file pins the real pairs' counts and sizes; this pins the samples' bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildPackage } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { sampleSteps } from './sample-steps.ts';

for (const { label, moduleName, files } of sampleSteps()) {
  if (files === null) {
    console.log(`${label}: missing (npm run samples:build)`);
    continue;
  }
  for (const skipRefused of [false, true]) {
    const r = buildPackage(new Uint8Array(readFileSync(files.old)), new Uint8Array(readFileSync(files.new)), { moduleName, skipRefused, series: null, compilerVersion: 'sample-package-hashes' });
    let h: string;
    if (!r.ok) h = `${r.error.code}: ${r.error.message}`;
    else {
      const e = await encodePackage(r.value.emitted.pkg);
      h = e.ok ? createHash('sha256').update(e.value).digest('hex') : e.error.code;
    }
    console.log(`${label} skip=${skipRefused}: ${h}`);
  }
}
