/**
 * Fuzzing the apply attack surface: mutated packages (fixups, redirects, blocks, unwind,
 * imports, functions, identity) planned and applied against ONE in-memory process that
 * must stay intact throughout. Each case either is refused with a PLAN_/APPLY_ error value
 * having executed no step, or applies and then reverts to the identical process. No throw,
 * no hang. A seeded PRNG makes failures reproducible (the case number is in the message).
 * A few thousand cases by default; 100,000 with HOTPATCH_FUZZ=full.
 */
import { describe, expect, it } from 'vitest';
import { applyPlan, revertPlan } from '../runtime/apply/execute-plan.ts';
import { fingerprint, loadSample } from '../runtime/apply/testing/fixtures.ts';
import { compile, mutatePackage } from './support/mutate-package.ts';
import { planPackage } from '../runtime/plan/plan-package.ts';
import { mulberry32 as rng } from './support/prng.ts';

const CASES = process.env['HOTPATCH_FUZZ'] === 'full' ? 100_000 : 2_000;


describe('apply fuzz: mutated packages against one in-memory process', () => {
  for (const scenario of ['new-import', 'cpp-exceptions', 'switch-table']) {
    it(`${scenario}: ${CASES} cases, each refused with zero steps or applied and reverted exactly`, async () => {
      const base = compile(scenario);
      const { image, backend } = loadSample(scenario, 'v1.dll');
      const pristine = fingerprint(image);
      const r = rng(0x5eed ^ scenario.length);
      const outcomes = new Map<string, number>();
      for (let n = 0; n < CASES; n++) {
        const pkg = mutatePackage(base, r);
        const executedBefore = backend.executed;
        let outcome: string;
        try {
          const planned = await planPackage(pkg, backend);
          if (!planned.ok) {
            expect(planned.error.code, `case ${n}`).toMatch(/^PLAN_/);
            expect(planned.error.message.includes('\n'), `case ${n}`).toBe(false);
            expect(backend.executed, `case ${n}: steps executed before a refusal`).toBe(executedBefore);
            outcome = planned.error.code;
          } else {
            const a = await applyPlan(backend, planned.value.plan);
            if (a.ok) {
              const b = await revertPlan(backend, planned.value.plan);
              expect(b.ok, `case ${n}: revert`).toBe(true);
              outcome = 'applied';
            } else {
              expect(a.error.code, `case ${n}`).toMatch(/^APPLY_/);
              outcome = a.error.code;
            }
          }
        } catch (e) {
          throw new Error(`case ${n} threw: ${(e as Error).stack ?? String(e)}`);
        }
        if (n % 250 === 0) expect(fingerprint(image), `case ${n}`).toBe(pristine);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      if (process.env['HOTPATCH_FUZZ_STATS'] === '1') console.log(scenario, Object.fromEntries(outcomes));
      expect(fingerprint(image)).toBe(pristine);
      // The mutations reach both sides: some applied, several different refusals.
      expect(outcomes.get('applied') ?? 0).toBeGreaterThan(0);
      expect([...outcomes.keys()].filter((k) => k !== 'applied').length).toBeGreaterThan(3);
    });
  }
});
