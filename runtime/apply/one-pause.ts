/**
 * Several plans switched in one pause. A plan's steps have one suspended span (suspend,
 * redirects, flushes, resume: `suspendedSpan`), the moment its new code goes live; what comes
 * before it (region, code, data, unwind registration, site pages made writable) and after it
 * (site protections restored, a superseded region freed) runs with the threads running. To
 * switch several plans at once (a bundle's modules), each plan is cut at its span, every
 * plan's `before` runs, then one span holding every plan's redirects and flushes, then every
 * plan's `after`. No thread can then see one module switched and another not.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { suspendedSpan } from '../plan/backend.ts';
import type { WriteStep } from '../plan/write-plan.ts';

/** A plan's steps cut at its suspended span. */
export interface CutPlan {
  readonly before: readonly WriteStep[];
  /** `suspend-threads` … `resume-threads`, or empty when the plan suspends nothing. */
  readonly span: readonly WriteStep[];
  readonly after: readonly WriteStep[];
}

/**
 * Cuts `steps` at its one suspended span. APPLY_SPANS when the steps suspend more than once,
 * or suspend around anything but redirects and flushes (such a plan cannot share a pause).
 */
export function cutAtSpan(steps: readonly WriteStep[]): Result<CutPlan> {
  const at = steps.findIndex((s) => s.op === 'suspend-threads');
  if (at < 0) {
    if (steps.some((s) => s.op === 'resume-threads' || s.op === 'redirect')) return err('APPLY_SPANS', 'the steps resume or redirect without suspending');
    return ok({ before: steps, span: [], after: [] });
  }
  const n = suspendedSpan(steps, at);
  if (n === 0) return err('APPLY_SPANS', `the suspension at step ${at} holds more than redirects and flushes`);
  const after = steps.slice(at + n);
  if (after.some((s) => s.op === 'suspend-threads' || s.op === 'redirect')) return err('APPLY_SPANS', 'the steps suspend the threads more than once');
  return ok({ before: steps.slice(0, at), span: steps.slice(at, at + n), after });
}

/**
 * One suspended span for all of `spans`: the threads are held once, avoiding every span's
 * ranges (the strictest attempts and delay of them), every redirect, then every flush, one
 * resume. Empty when no span suspends anything.
 */
export function mergeSpans(spans: readonly (readonly WriteStep[])[]): WriteStep[] {
  const avoid = [];
  const quiescent = [];
  let attempts = 1;
  let retryDelayMs = 0;
  const redirects: WriteStep[] = [];
  const flushes: WriteStep[] = [];
  for (const span of spans) {
    for (const s of span) {
      if (s.op === 'suspend-threads') {
        avoid.push(...s.avoid);
        quiescent.push(...(s.quiescent ?? []));
        attempts = Math.max(attempts, s.attempts);
        retryDelayMs = Math.max(retryDelayMs, s.retryDelayMs);
      } else if (s.op === 'redirect') redirects.push(s);
      else if (s.op === 'flush') flushes.push(s);
    }
  }
  if (spans.every((s) => s.length === 0)) return [];
  return [{ op: 'suspend-threads', avoid, attempts, retryDelayMs, ...(quiescent.length === 0 ? {} : { quiescent }) }, ...redirects, ...flushes, { op: 'resume-threads' }];
}
