/**
 * The transaction: execute a plan's steps in order on a backend; when a step fails, undo
 * every executed step in reverse (see `undoOf`) so the target is left byte-identical, with
 * identical protections, allocations and registrations. Redirect undo always runs with the
 * threads suspended. The commit point is the last redirect: a plan's steps put every code
 * and data byte in place first.
 */
import { err, ok, type HotpatchError, type Result } from '../../common/errors.ts';
import { suspendedSpan, type ProcessBackend } from '../plan/backend.ts';
import { undoOf, type StepObservation, type VaRange, type WritePlan, type WriteStep } from '../plan/write-plan.ts';

/** What executing a list of steps took. */
export interface ExecuteReport {
  /** Steps executed. */
  readonly steps: number;
  /** Wall time of the whole list. */
  readonly totalMs: number;
  /** How long the target's threads were suspended (suspend → resume). */
  readonly pauseMs: number;
  /** Time per step, in step order. */
  readonly stepMs: readonly number[];
  /** Bytes written by write and redirect steps. */
  readonly bytesWritten: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * One step on the backend. A backend that throws (a bug, or a live agent whose pipe broke)
 * is treated as a failed step, so the transaction still rolls back what it can.
 */
async function run(backend: ProcessBackend, step: WriteStep): Promise<Result<StepObservation>> {
  try {
    return await backend.execute(step);
  } catch (e) {
    return err('APPLY_BACKEND', `backend ${backend.kind} threw during ${step.op}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/**
 * Executes `steps` as one transaction. On failure returns the failing step's error (its
 * message prefixed with the step index); if the rollback itself fails, APPLY_ROLLBACK
 * names both failures (the target may then be inconsistent: that is the one case this
 * cannot hide).
 */
export function executeSteps(backend: ProcessBackend, steps: readonly WriteStep[]): Promise<Result<ExecuteReport>> {
  return openTransaction().run(backend, steps);
}

/**
 * A transaction that spans several step lists, possibly on several backends of one target
 * (a bundle: each module's preparation on its own backend, then one suspended span for every
 * module). Each `run` executes its steps; when a step fails, every step of every earlier
 * `run` of the transaction is undone too, newest first (each undo on the backend that ran
 * the step), and the transaction is over. A transaction whose runs all succeed is simply
 * dropped: there is nothing to commit at this level.
 */
export interface Transaction {
  run(backend: ProcessBackend, steps: readonly WriteStep[]): Promise<Result<ExecuteReport>>;
}

interface Undo {
  readonly backend: ProcessBackend;
  readonly steps: readonly WriteStep[];
}

export function openTransaction(): Transaction {
  const undo: Undo[] = [];
  let failed = false;
  return {
    async run(backend, steps) {
      if (failed) return err('APPLY_BACKEND', 'the transaction already failed and was rolled back');
      const r = await runSteps(backend, steps, undo);
      if (r.ok) return r;
      failed = true;
      const rolled = await rollback(undo, r.error.suspended);
      const failure = r.error.error;
      if (!rolled.ok) return err('APPLY_ROLLBACK', `${failure.code}: ${failure.message}; rollback failed: ${rolled.error.code}: ${rolled.error.message}`);
      return { ok: false, error: failure };
    },
  };
}

/** Runs `steps`, logging each one's undo; stops at the first failure (which it does not undo). */
async function runSteps(backend: ProcessBackend, steps: readonly WriteStep[], undo: Undo[]): Promise<Result<ExecuteReport, { error: HotpatchError; suspended: ProcessBackend | null }>> {
  const t0 = now();
  const stepMs: number[] = [];
  let suspended = false;
  let suspendedAt = 0;
  let pauseMs = 0;
  let bytesWritten = 0;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    // A suspended span goes to the backend whole when it can take it (one agent round trip).
    const span = backend.executeSpan === undefined ? 0 : suspendedSpan(steps, i);
    if (span > 0) {
      const part = steps.slice(i, i + span);
      const ts = now();
      const r = await runSpan(backend, part);
      const took = now() - ts;
      if (!r.ok) return { ok: false, error: { error: { ...r.error, message: `steps ${i}-${i + span - 1} (suspended span): ${r.error.message}` }, suspended: null } };
      part.forEach((s, k) => {
        undo.push({ backend, steps: undoOf(s, r.value[k] ?? {}) });
        stepMs.push(k === 0 ? took : 0);
        if (s.op === 'redirect') bytesWritten += s.bytes.length;
      });
      pauseMs += took;
      i += span - 1;
      continue;
    }
    const ts = now();
    const r = await run(backend, step);
    stepMs.push(now() - ts);
    if (!r.ok) return { ok: false, error: { error: { ...r.error, message: `step ${i} (${step.op}): ${r.error.message}` }, suspended: suspended ? backend : null } };
    undo.push({ backend, steps: undoOf(step, r.value) });
    if (step.op === 'suspend-threads') {
      suspended = true;
      suspendedAt = now();
    } else if (step.op === 'resume-threads' && suspended) {
      suspended = false;
      pauseMs += now() - suspendedAt;
    } else if (step.op === 'write' || step.op === 'redirect') bytesWritten += step.bytes.length;
  }
  return ok({ steps: steps.length, totalMs: now() - t0, pauseMs, stepMs, bytesWritten });
}

async function runSpan(backend: ProcessBackend, steps: readonly WriteStep[]): Promise<Result<StepObservation[]>> {
  try {
    const r = await backend.executeSpan!(steps);
    if (r.ok && r.value.length !== steps.length) return err('APPLY_BACKEND', `backend ${backend.kind} answered ${r.value.length} observations for a span of ${steps.length} steps`);
    return r;
  } catch (e) {
    return err('APPLY_BACKEND', `backend ${backend.kind} threw during a suspended span: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/**
 * Undoes the logged steps newest first. Original bytes go back only with every thread
 * suspended, as when they were replaced, and only while no thread's instruction pointer is in
 * the bytes being put back (a thread between a short jump and the long jump in the padding
 * would otherwise run padding): the suspension avoids every redirect range the undo restores.
 */
async function rollback(undo: readonly Undo[], suspendedNow: ProcessBackend | null): Promise<Result<void>> {
  let suspended = suspendedNow;
  const errors: HotpatchError[] = [];
  const restored: VaRange[] = undo.flatMap((u) => u.steps.flatMap((s) => (s.op === 'redirect' ? [{ start: s.address, size: s.bytes.length }] : [])));
  for (let i = undo.length - 1; i >= 0; i--) {
    const { backend, steps } = undo[i]!;
    for (const step of steps) {
      if (step.op === 'resume-threads') {
        if (suspended === null) continue;
        suspended = null;
      }
      if (step.op === 'redirect' && suspended === null) {
        const s = await run(backend, { op: 'suspend-threads', avoid: restored, attempts: ROLLBACK_ATTEMPTS, retryDelayMs: 1 });
        if (!s.ok) {
          errors.push(s.error);
          continue;
        }
        suspended = backend;
      }
      const r = await run(backend, step);
      // Keep going: undoing as much as possible beats stopping half way.
      if (!r.ok) errors.push(r.error);
    }
  }
  if (suspended !== null) {
    const r = await run(suspended, { op: 'resume-threads' });
    if (!r.ok) errors.push(r.error);
  }
  const first = errors[0];
  return first === undefined ? ok(undefined) : err(first.code, `${first.message}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ''}`);
}

/** How many times a rollback suspends and looks before giving up on a thread in a redirect range. */
const ROLLBACK_ATTEMPTS = 200;

/** Applies a plan: its `steps`, as one transaction. */
export function applyPlan(backend: ProcessBackend, plan: WritePlan): Promise<Result<ExecuteReport>> {
  return executeSteps(backend, plan.steps);
}

/**
 * Reverts an applied plan: its `revert` steps, as one transaction (back to the baseline,
 * the region freed). Errors carry REVERT_ codes.
 */
export async function revertPlan(backend: ProcessBackend, plan: WritePlan): Promise<Result<ExecuteReport>> {
  const r = await executeSteps(backend, plan.revert);
  if (r.ok) return r;
  const code = r.error.code.startsWith('APPLY_') ? `REVERT_${r.error.code.slice('APPLY_'.length)}` : r.error.code;
  return { ok: false, error: { ...r.error, code } };
}
