// Every sample scenario step as an (old, new) DLL pair, per toolchain and with symbols and
// stripped, for the scripts that hash the compiler's output before and after a change
// (sample-package-hashes.ts, compiler-output-hashes.ts). `old`/`new` are null when the
// sample is not built (npm run samples:build).
import { existsSync } from 'node:fs';
import { readScenarios, scenarioDll, TOOLCHAINS } from '../samples/scenarios.ts';

export interface SampleStep {
  /** `scenario toolchain syms|stripped from-to`, the line prefix the scripts print. */
  readonly label: string;
  readonly moduleName: string;
  readonly files: { readonly old: string; readonly new: string } | null;
}

export function* sampleSteps(): Generator<SampleStep> {
  for (const s of readScenarios()) {
    for (const tc of TOOLCHAINS) {
      for (const stripped of [false, true]) {
        for (const step of s.steps) {
          const a = scenarioDll(s.name, step.from, stripped, undefined, tc);
          const b = scenarioDll(s.name, step.to, stripped, undefined, tc);
          yield {
            label: `${s.name} ${tc} ${stripped ? 'stripped' : 'syms'} ${step.from}-${step.to}`,
            moduleName: `${s.name}.dll`,
            files: existsSync(a) && existsSync(b) ? { old: a, new: b } : null,
          };
        }
      }
    }
  }
}
