/**
 * Quiescent ranges (format 2.4) in the planner and the in-memory backend: the caller-loop
 * package's plan puts old run's body on the apply's suspension (named run, none on the
 * revert's), the plan's JSON keeps it, and a simulated thread inside old run makes the apply
 * retry and then refuse with APPLY_THREAD_IN_OLD_CALLER, the image byte-identical; a thread
 * elsewhere does not block. The twin caller-loop-same plans no quiescent range.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asVa, type Va } from '../common/types.ts';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../compiler/index.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { applyPlan } from '../runtime/apply/execute-plan.ts';
import { fingerprint, loadSample } from '../runtime/apply/testing/fixtures.ts';
import { planPackage } from '../runtime/plan/plan-package.ts';
import { writePlanFromJson, writePlanToJson, type WritePlan } from '../runtime/plan/write-plan.ts';
import { scenarioDll } from '../samples/scenarios.ts';

function pkgOf(s: string): HotpatchPackage {
  const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, false)));
  const d = diffFiles(read('v1'), read('v2'));
  if (!d.ok) throw new Error(d.error.message);
  const b = buildFromDiff(d.value, { moduleName: `${s}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) throw new Error(b.error.message);
  return b.value.emitted.pkg;
}

async function planOf(s: string, pkg: HotpatchPackage): Promise<WritePlan> {
  const { backend } = loadSample(s, 'v1.dll');
  const r = await planPackage(pkg, backend, {});
  if (!r.ok) throw new Error(r.error.message);
  return r.value.plan;
}

const suspends = (steps: WritePlan['steps']) => steps.flatMap((s) => (s.op === 'suspend-threads' ? [s] : []));

describe('quiescent ranges in the plan and the in-memory image', () => {
  it("caller-loop: the apply's suspension holds old run's body, named run; the revert's none; JSON keeps it", async () => {
    const pkg = pkgOf('caller-loop');
    const plan = await planOf('caller-loop', pkg);
    const [apply] = suspends(plan.steps);
    const q = pkg.quiescent![0]!;
    expect(apply?.quiescent).toEqual([{ start: asVa(plan.image.base + BigInt(q.rva)), size: q.length, name: 'run' }]);
    expect(suspends(plan.revert).map((s) => s.quiescent)).toEqual([undefined]);
    const back = writePlanFromJson(JSON.parse(JSON.stringify(writePlanToJson(plan))));
    if (!back.ok) throw new Error(back.error.message);
    expect(suspends(back.value.steps)[0]?.quiescent).toEqual(apply?.quiescent);
  });

  it('a simulated thread inside old run: refused after the tries, the image unchanged; a thread elsewhere does not block', async () => {
    const pkg = pkgOf('caller-loop');
    const plan = await planOf('caller-loop', pkg);
    const q = suspends(plan.steps)[0]!.quiescent![0]!;
    const fast = { ...plan, steps: plan.steps.map((s) => (s.op === 'suspend-threads' ? { ...s, attempts: 3, retryDelayMs: 0 } : s)) };
    const inside = loadSample('caller-loop', 'v1.dll');
    const before = fingerprint(inside.image);
    inside.image.threadIps = (): Va[] => [asVa(q.start + BigInt(q.size - 1))];
    const refused = await applyPlan(inside.backend, fast);
    expect(refused.ok ? 'applied' : refused.error.code).toBe('APPLY_THREAD_IN_OLD_CALLER');
    if (!refused.ok) expect(refused.error.message).toMatch(/a thread stayed inside old run \(quiescent range 0x[0-9a-f]+\+0x[0-9a-f]+\) for 3 attempts/);
    expect(fingerprint(inside.image)).toBe(before);
    const outside = loadSample('caller-loop', 'v1.dll');
    outside.image.threadIps = (): Va[] => [asVa(q.start + BigInt(q.size))];
    expect((await applyPlan(outside.backend, fast)).ok).toBe(true);
  });

  it('caller-loop-same (same argument): no quiescent range on any step', async () => {
    const pkg = pkgOf('caller-loop-same');
    expect(pkg.quiescent ?? []).toEqual([]);
    const plan = await planOf('caller-loop-same', pkg);
    expect(suspends(plan.steps).map((s) => s.quiescent)).toEqual([undefined]);
  });
});
