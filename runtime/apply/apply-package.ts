/**
 * The runtime's front door: plan a loaded, verified package against a backend and apply it
 * as one transaction; revert an applied plan. Reports the times a user cares about: per
 * function, the total, and the pause (how long threads were suspended).
 */
import type { Result } from '../../common/errors.ts';
import { ok } from '../../common/errors.ts';
import type { Va } from '../../common/types.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import type { ProcessBackend } from '../plan/backend.ts';
import { planPackage, type PlanOptions } from '../plan/plan-package.ts';
import type { WritePlan } from '../plan/write-plan.ts';
import { applyPlan, revertPlan, type ExecuteReport } from './execute-plan.ts';

/** Time attributed to one function: planning its block (bytes + fixups) and writing its redirect. */
export interface FunctionTiming {
  readonly name: string | null;
  readonly status: 'changed' | 'added';
  readonly oldVa: Va | null;
  readonly bodyVa: Va;
  readonly size: number;
  readonly ms: number;
}

/** What an apply did and how long each part took. */
export interface ApplyReport {
  readonly plan: WritePlan;
  readonly planMs: number;
  readonly execute: ExecuteReport;
  /** planMs + execute.totalMs. */
  readonly totalMs: number;
  readonly functions: readonly FunctionTiming[];
}

/**
 * Plans and applies `pkg` (already loaded and verified by formats' loadPackage) to the
 * module behind `backend`. A refusal during planning happens before any step executes; a
 * failure during execution is rolled back. Pass the currently applied plan of the same
 * series as `options.current` to supersede it.
 */
export async function applyPackage(pkg: HotpatchPackage, backend: ProcessBackend, options: PlanOptions = {}): Promise<Result<ApplyReport>> {
  const planned = await planPackage(pkg, backend, options);
  if (!planned.ok) return planned;
  const { plan, timing } = planned.value;
  const executed = await applyPlan(backend, plan);
  if (!executed.ok) return executed;
  const ex = executed.value;
  // Redirect step times go to the function whose redirect range they cover.
  const redirectMs = new Map<bigint, number>();
  plan.steps.forEach((s, i) => {
    if (s.op !== 'redirect') return;
    const owner = plan.redirects.find((r) => r.writes.some((w) => w.address < s.address + BigInt(s.bytes.length) && s.address < w.address + BigInt(w.bytes.length)));
    if (owner !== undefined) redirectMs.set(owner.functionVa, (redirectMs.get(owner.functionVa) ?? 0) + (ex.stepMs[i] ?? 0));
  });
  const functions: FunctionTiming[] = pkg.functions.map((f, i) => {
    const p = plan.functions[i]!;
    const ms = (timing.blockMs.get(f.blockId) ?? 0) / Math.max(1, pkg.functions.filter((g) => g.blockId === f.blockId).length) + (p.oldVa === null ? 0 : (redirectMs.get(p.oldVa) ?? 0));
    return { name: p.name, status: p.status, oldVa: p.oldVa, bodyVa: p.bodyVa, size: p.size, ms };
  });
  return ok({ plan, planMs: timing.totalMs, execute: ex, totalMs: timing.totalMs + ex.totalMs, functions });
}

/** Reverts an applied plan (back to the baseline; the region freed), as one transaction. */
export function revertPackage(plan: WritePlan, backend: ProcessBackend): Promise<Result<ExecuteReport>> {
  return revertPlan(backend, plan);
}
