// The sha256 of the write plan the runtime computes for every sample scenario step (gcc and
// clang, with symbols and stripped), or the planner's refusal: one line each. Each scenario
// is applied as one cumulative series (every step's package built from the first version)
// in one in-memory process at its preferred base, so later steps are planned over an
// applied plan; each step is also planned alone in a process loaded at a relocated base. Run it before and after a change that must not move
// the planner's output and diff the two:
//   node bin/run-ts.js scripts/sample-plan-hashes.ts > before.txt
// (scripts/sample-package-hashes.ts does the same for the compiler's package bytes.)
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { asVa } from '../common/types.ts';
import { buildPackage } from '../compiler/index.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { loadSample, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { planPackage } from '../runtime/plan/plan-package.ts';
import { writePlanToJson, type WritePlan } from '../runtime/plan/write-plan.ts';
import { readScenarios, scenarioDll, TOOLCHAINS } from '../samples/scenarios.ts';

/** Far from any sample's preferred base: every absolute field and rel32 is recomputed. */
const RELOCATED = asVa(0x7ff7_4000_0000n);

const planHash = (plan: WritePlan): string => createHash('sha256').update(JSON.stringify(writePlanToJson(plan))).digest('hex');

for (const s of readScenarios()) {
  for (const tc of TOOLCHAINS) {
    for (const stripped of [false, true]) {
      const suffix = `${tc === 'clang' ? '.clang' : ''}${stripped ? '.stripped' : ''}`;
      const first = s.steps[0];
      if (first === undefined || !existsSync(scenarioDll(s.name, first.from, stripped, undefined, tc))) {
        console.log(`${s.name} ${tc} ${stripped ? 'stripped' : 'syms'}: missing (npm run samples:build)`);
        continue;
      }
      const series = loadSample(s.name, `${first.from}${suffix}.dll`);
      let current: WritePlan | null = null;
      for (const [i, step] of s.steps.entries()) {
        const label = `${s.name} ${tc} ${stripped ? 'stripped' : 'syms'} ${first.from}-${step.to}`;
        const a = sampleBytes(s.name, `${first.from}${suffix}.dll`); // cumulative: every step from the baseline
        const b = sampleBytes(s.name, `${step.to}${suffix}.dll`);
        const built = buildPackage(a, b, { moduleName: `${s.name}.dll`, skipRefused: true, series: { baselineId: s.name, sequence: i + 1 }, compilerVersion: 'sample-plan-hashes' });
        if (!built.ok) {
          console.log(`${label}: compiler ${built.error.code}`);
          continue;
        }
        const pkg = built.value.emitted.pkg;
        const applied = await applyPackage(pkg, series.backend, { current });
        if (applied.ok) current = applied.value.plan;
        console.log(`${label} series: ${applied.ok ? planHash(applied.value.plan) : `${applied.error.code}: ${applied.error.message}`}`);
        const alone = loadSample(s.name, `${first.from}${suffix}.dll`, RELOCATED);
        const planned = await planPackage(pkg, alone.backend);
        console.log(`${label} relocated: ${planned.ok ? planHash(planned.value.plan) : `${planned.error.code}: ${planned.error.message}`}`);
      }
    }
  }
}
