/**
 * The backend contract: what the planner may ask of a target process (reads and queries,
 * never writes), and the one entry point that executes a write-plan step. The in-memory
 * process image (runtime/backends/memory-backend.ts) and the live Win32 agent driver
 * (runtime/backends/win32-agent.ts) both implement it, so the same planner and the same
 * transactional executor (runtime/apply) run against either.
 *
 * Everything is async because a live backend talks to another process; the in-memory one
 * answers at once.
 */
import type { Result } from '../../common/errors.ts';
import type { Va } from '../../common/types.ts';
import type { StepObservation, VaRange, WriteStep } from './write-plan.ts';

/** Protection of a run of pages, as VirtualQueryEx reports it (PAGE_* constants). */
export interface ProtectionRun {
  readonly address: Va;
  readonly size: number;
  readonly protection: number;
}

/** The module (image) being patched, as found in the target. */
export interface TargetModule {
  readonly base: Va;
  readonly sizeOfImage: number;
  /** Module file name (e.g. `logic.dll`), when known. */
  readonly name: string | null;
  /** The module's full path as the target reports it (a Windows path for a live process), when known. */
  readonly path?: string | null;
}

/** A target process: queries for the planner, and `execute` for the write-plan steps. */
export interface ProcessBackend {
  /** `memory` for the process image model, `win32-agent` for a live process. */
  readonly kind: string;
  readonly module: TargetModule;
  /** Reads committed, readable memory; an APPLY_/LIVE_ error for anything else. */
  read(address: Va, size: number): Promise<Result<Uint8Array>>;
  /** Protections of the pages covering `[address, address + size)`, as runs of equal protection. */
  queryProtection(address: Va, size: number): Promise<Result<readonly ProtectionRun[]>>;
  /**
   * A free range of `size` bytes (rounded up to pages), aligned to the 64K allocation
   * granularity, such that every byte of it is within ±2 GB (rel32 reach) of every byte of
   * `near`. First fit, searching upward from the end of `near` first, then downward.
   * PLAN_NO_REGION when there is none.
   */
  findFreeRegion(near: VaRange, size: number): Promise<Result<Va>>;
  /**
   * The address of `dll!name` (or `dll!#ordinal`) in the target, for an import the old
   * image does not have. In-memory: a deterministic stub address; live: GetProcAddress in
   * the target. PLAN_IMPORT when it cannot be resolved.
   */
  resolveImport(dll: string, name: string | null, ordinal: number | null): Promise<Result<Va>>;
  /**
   * Executes one primitive step (see write-plan.ts for each op's semantics) and reports
   * what the undo of the step needs. A failing step must change nothing (all or nothing
   * per step); the executor then undoes the earlier steps.
   */
  execute(step: WriteStep): Promise<Result<StepObservation>>;
  /**
   * Optional: executes a whole suspended span at once: `suspend-threads`, then only
   * `redirect` and `flush` steps, then `resume-threads` (see `suspendedSpan`). All or
   * nothing: on failure nothing in the span has changed and the threads run again. A live
   * backend does this in one agent request, so the pause does not grow with the number of
   * redirects by a round trip each. Returns one observation per step.
   */
  executeSpan?(steps: readonly WriteStep[]): Promise<Result<StepObservation[]>>;
}

/**
 * The length of the suspended span starting at `steps[i]` (a `suspend-threads`, then only
 * `redirect`/`flush` steps, then `resume-threads`), or 0 when `steps[i]` starts no such span.
 */
export function suspendedSpan(steps: readonly WriteStep[], i: number): number {
  if (steps[i]?.op !== 'suspend-threads') return 0;
  for (let j = i + 1; j < steps.length; j++) {
    const op = steps[j]!.op;
    if (op === 'resume-threads') return j - i + 1;
    if (op !== 'redirect' && op !== 'flush') return 0;
  }
  return 0;
}

/** True when `ip` lies in one of `ranges`. */
export function ipInRanges(ip: Va, ranges: readonly VaRange[]): boolean {
  return ranges.some((r) => ip >= r.start && ip < r.start + BigInt(r.size));
}
