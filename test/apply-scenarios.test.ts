/**
 * Every hotpatchable sample scenario (samples/scenarios.json), every step, with the
 * compiler's packages (diffImages → emitPackage → verifyPackage at the addresses this
 * runtime chose): applied to the in-memory image of the OLD DLL, each changed function
 * read through its redirect equals the NEW function with references mapped; revert gives
 * back the identical process; the same for the stripped builds (packages built without
 * symbols), for both compilers (GCC and clang-22 builds). Then the series scenario as one cumulative series.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { emitPackage } from '../compiler/emit/emit-package.ts';
import { verifyPackage } from '../compiler/verify/verify-package.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { applyPackage, revertPackage } from '../runtime/apply/apply-package.ts';
import { checkThroughRedirects } from '../runtime/apply/testing/check-redirects.ts';
import { fingerprint, loadSample, ROOT, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { expectationOf, patchedBySome, readScenarios, TOOLCHAINS } from '../samples/scenarios.ts';

const scenarios = readScenarios().filter(patchedBySome);

function compile(scenario: string, from: string, to: string, series: { baselineId: string; sequence: number } | null = null, suffix = '') {
  const o = sampleBytes(scenario, `${from}${suffix}.dll`);
  const n = sampleBytes(scenario, `${to}${suffix}.dll`);
  const diff = diffFiles(o, n);
  if (!diff.ok) throw new Error(diff.error.message);
  const e = emitPackage(diff.value, { moduleName: `${scenario}.dll`, skipRefused: false, series, compilerVersion: 'runtime scenarios test' });
  if (!e.ok) throw new Error(e.error.message);
  return { o, n, diff: diff.value, pkg: e.value.pkg };
}

const changedNames = (pkg: HotpatchPackage): string[] => pkg.functions.filter((f) => f.status === 'changed' && f.name !== null).map((f) => f.name!);

describe('compiler packages for every hotpatchable scenario, applied to the in-memory image', () => {
  expect(scenarios.length).toBeGreaterThan(5);
  for (const tc of TOOLCHAINS) {
    for (const stripped of [false, true]) {
      const suffix = `${tc === 'clang' ? '.clang' : ''}${stripped ? '.stripped' : ''}`;
      for (const s of scenarios) {
        for (const st of s.steps) {
          if (!existsSync(join(ROOT, 'samples/bin', s.name, `${st.from}${suffix}.dll`))) continue;
          // A known miss of the compiler (samples/scenarios.json `misses`), or a must-refuse
          // scenario's build other than its `safeWith` ones, is refused, not applied.
          const e = expectationOf(s, st, tc, stripped);
          if (e.expect === 'refused') continue;
          const fns = e.safe?.functions ?? st.functions;
          it(`${s.name} ${st.from} -> ${st.to}${tc === 'clang' ? ', clang' : ''}${stripped ? ', stripped (no symbols)' : ''}`, async () => {
            const { diff, pkg } = compile(s.name, st.from, st.to, null, suffix);
            const { image, backend } = loadSample(s.name, `${st.from}${suffix}.dll`);
            const before = fingerprint(image);
            const r = await applyPackage(pkg, backend);
            if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
            // Names come from the pair with symbols, which has the same layout.
            const named = tc === 'clang' ? '.clang' : '';
            const o = sampleBytes(s.name, `${st.from}${named}.dll`);
            const n = sampleBytes(s.name, `${st.to}${named}.dll`);
            // gcc changes exactly the listed functions; clang's builds change more (hp_run's
            // inlined copies, CRT code lld moves), as test/compiler-samples.test.ts pins.
            if (!stripped && tc === 'gcc') expect(changedNames(pkg).sort()).toEqual([...fns].sort());
            if (!stripped && tc === 'clang') expect(changedNames(pkg)).toEqual(expect.arrayContaining([...fns]));
            expect(checkThroughRedirects(image, r.value.plan, o, n, stripped ? fns : changedNames(pkg), stripped ? pkg : undefined)).toEqual([]);
            // The compiler's own verifier, on paper, at exactly the addresses this apply used.
            const v = verifyPackage(diff, pkg, { imageBase: image.base, regionBase: r.value.plan.region.address });
            expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
            expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
            expect(fingerprint(image)).toBe(before);
          });
        }
      }
    }
  }

  it('series: v1 -> v2 as sequence 1, then v1 -> v3 as sequence 2 superseding it, then revert to v1', async () => {
    const one = compile('series', 'v1', 'v2', { baselineId: 'series-v1', sequence: 1 });
    const two = compile('series', 'v1', 'v3', { baselineId: 'series-v1', sequence: 2 });
    const { image, backend } = loadSample('series', 'v1.dll');
    const baseline = fingerprint(image);
    const a1 = await applyPackage(one.pkg, backend);
    if (!a1.ok) throw new Error(a1.error.message);
    expect(checkThroughRedirects(image, a1.value.plan, one.o, one.n, changedNames(one.pkg))).toEqual([]);
    const a2 = await applyPackage(two.pkg, backend, { current: a1.value.plan });
    if (!a2.ok) throw new Error(a2.error.message);
    expect(changedNames(two.pkg).sort()).toEqual(['vowel_count', 'word_count']);
    expect(checkThroughRedirects(image, a2.value.plan, two.o, two.n, changedNames(two.pkg))).toEqual([]);
    expect(image.space.regionAt(a1.value.plan.region.address)).toBeUndefined();
    const again = await applyPackage(one.pkg, backend, { current: a2.value.plan });
    expect(again.ok ? 'applied' : again.error.code).toBe('PLAN_SEQUENCE');
    expect((await revertPackage(a2.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(image)).toBe(baseline);
  });
});
