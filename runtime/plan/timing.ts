/** Planning time, per code block (materialise + fixups), for per-function reports. */
export interface PlanTiming {
  readonly totalMs: number;
  readonly blockMs: ReadonlyMap<number, number>;
}

/** Milliseconds from an arbitrary origin (performance.now where the runtime has it). */
export const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
