/**
 * Several plans in one pause (one-pause.ts) and a transaction over several step lists
 * (execute-plan.ts `openTransaction`), on real sample plans in the in-memory process image.
 */
import { describe, expect, it } from 'vitest';
import type { HotpatchPackage } from '../../formats/package.ts';
import { planPackage } from '../plan/plan-package.ts';
import type { WritePlan, WriteStep } from '../plan/write-plan.ts';
import { applyPlan, openTransaction } from './execute-plan.ts';
import { cutAtSpan, mergeSpans } from './one-pause.ts';
import { fingerprint, loadSample, sampleBytes } from './testing/fixtures.ts';
import { buildHandPackage } from './testing/hand-package.ts';

const pkgOf = (scenario: string, changed: string[]): HotpatchPackage => buildHandPackage(sampleBytes(scenario, 'v1.dll'), sampleBytes(scenario, 'v2.dll'), { changed });

async function planned(scenario: string, changed: string[]): Promise<{ plan: WritePlan; load: ReturnType<typeof loadSample> }> {
  const load = loadSample(scenario, 'v1.dll');
  const r = await planPackage(pkgOf(scenario, changed), load.backend, {});
  if (!r.ok) throw new Error(r.error.message);
  return { plan: r.value.plan, load };
}

const ops = (steps: readonly WriteStep[]): string[] => steps.map((s) => s.op);

describe('one pause for several plans', () => {
  it('cuts a plan at its one suspended span, and the three parts are the plan', async () => {
    const { plan } = await planned('bounds-check', ['set_name', 'get_score']);
    const cut = cutAtSpan(plan.steps);
    if (!cut.ok) throw new Error(cut.error.message);
    expect([...cut.value.before, ...cut.value.span, ...cut.value.after]).toEqual(plan.steps);
    expect(ops(cut.value.span)[0]).toBe('suspend-threads');
    expect(ops(cut.value.span).at(-1)).toBe('resume-threads');
    expect(ops(cut.value.before)).not.toContain('redirect');
    expect(ops(cut.value.after)).not.toContain('redirect');
    const revert = cutAtSpan(plan.revert);
    expect(revert.ok && ops(revert.value.span).filter((o) => o === 'redirect').length).toBe(2);
  });

  it('refuses steps that suspend twice or around other steps', async () => {
    const { plan } = await planned('logic-fix', ['sum_first']);
    const twice = cutAtSpan([...plan.steps, ...plan.steps]);
    expect(twice.ok ? null : twice.error.code).toBe('APPLY_SPANS');
    const i = plan.steps.findIndex((s) => s.op === 'suspend-threads');
    const mixed = cutAtSpan([...plan.steps.slice(0, i + 1), { op: 'free', address: plan.region.address, size: plan.region.size }, ...plan.steps.slice(i + 1)]);
    expect(mixed.ok ? null : mixed.error.code).toBe('APPLY_SPANS');
    expect(cutAtSpan(plan.steps.filter((s) => s.op !== 'suspend-threads')).ok).toBe(false);
  });

  it('merges two modules\' spans into one suspension avoiding every site, with every redirect and flush', async () => {
    const a = await planned('logic-fix', ['sum_first']);
    const b = await planned('bounds-check', ['set_name', 'get_score']);
    const spans = [a.plan.steps, b.plan.steps].map((s) => {
      const c = cutAtSpan(s);
      if (!c.ok) throw new Error(c.error.message);
      return c.value.span;
    });
    const merged = mergeSpans(spans);
    expect(ops(merged).filter((o) => o === 'suspend-threads')).toHaveLength(1);
    expect(ops(merged).filter((o) => o === 'resume-threads')).toHaveLength(1);
    const all = spans.flat();
    expect(merged.filter((s) => s.op === 'redirect')).toEqual(all.filter((s) => s.op === 'redirect'));
    expect(merged.filter((s) => s.op === 'flush')).toEqual(all.filter((s) => s.op === 'flush'));
    const suspend = merged[0]!;
    const avoids = all.flatMap((s) => (s.op === 'suspend-threads' ? s.avoid : []));
    expect(suspend.op === 'suspend-threads' && suspend.avoid).toEqual(avoids);
    expect(mergeSpans([[], []])).toEqual([]);
  });

  it('staged (before, one span, after) on one transaction gives exactly what the plan gives', async () => {
    const direct = await planned('logic-fix', ['sum_first']);
    const r = await applyPlan(direct.load.backend, direct.plan);
    expect(r.ok).toBe(true);
    const staged = await planned('logic-fix', ['sum_first']);
    const cut = cutAtSpan(staged.plan.steps);
    if (!cut.ok) throw new Error(cut.error.message);
    const tx = openTransaction();
    for (const part of [cut.value.before, mergeSpans([cut.value.span]), cut.value.after]) expect((await tx.run(staged.load.backend, part)).ok).toBe(true);
    expect(fingerprint(staged.load.image)).toBe(fingerprint(direct.load.image));
  });

  it('a failure in a later run undoes every earlier run of the transaction (the process byte-identical)', async () => {
    const { plan, load } = await planned('bounds-check', ['set_name', 'get_score']);
    const before = fingerprint(load.image);
    const cut = cutAtSpan(plan.steps);
    if (!cut.ok) throw new Error(cut.error.message);
    const tx = openTransaction();
    expect((await tx.run(load.backend, cut.value.before)).ok).toBe(true);
    expect((await tx.run(load.backend, mergeSpans([cut.value.span]))).ok).toBe(true);
    expect(fingerprint(load.image)).not.toBe(before);
    load.backend.injectFault(cut.value.after.length - 1); // the last step after the span
    const failed = await tx.run(load.backend, cut.value.after);
    expect(failed.ok ? null : failed.error.code).toBe('APPLY_FAULT_INJECTED');
    expect(fingerprint(load.image)).toBe(before);
    const again = await tx.run(load.backend, cut.value.after);
    expect(again.ok ? null : again.error.code).toBe('APPLY_BACKEND');
  });
});
