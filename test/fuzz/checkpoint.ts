/**
 * A fuzz run's figures as saved in bench/results/fuzz/<surface>.json, and how a run continues
 * from them. Case `i` of seed `s` is a pure function of (s, i) (test/fuzz/worker-main.ts), so
 * a run of cases [0, N) may stop anywhere (killed, `--minutes`, the machine going away) and be
 * continued with `--resume` from its first case not run: the saved figures are then the sum of
 * the segments, under the same rules (same seed, same case count, same time limit and memory
 * budget, or no resume). A run counts as complete only when every case of [0, N) ran.
 */
import type { FuzzReport } from './harness.ts';

/** What `npm run fuzz` saves per surface: the report of cases [from, next) over all segments. */
export interface SavedRun extends FuzzReport {
  /** When the first segment started, and when this file was written. */
  readonly started: string;
  readonly updated: string;
  /** Elapsed time of all segments (excludes the time between a stop and its resume). */
  readonly wallSeconds: number;
  /** How many runs (1 + resumes) the figures add up. */
  readonly segments: number;
  readonly machine: string;
  readonly node: string;
}

/**
 * The saved run a `--resume` continues, or null to start at case 0 (nothing saved). Throws
 * (a usage error: the caller prints it) when the saved run is of other rules or already complete.
 */
export function resumeFrom(saved: Partial<SavedRun> | null, want: { seed: number; cases: number; timeoutMs: number; memoryMb: number }): SavedRun | null {
  if (saved === null) return null;
  const s = normalise(saved);
  const rules = `seed ${s.seed}, ${s.requested} cases, ${s.timeoutMs} ms, ${s.memoryMb} MB`;
  if (s.from !== 0) throw new Error(`--resume: the saved ${s.surface} run does not start at case 0`);
  if (s.seed !== want.seed || s.requested !== want.cases || s.timeoutMs !== want.timeoutMs || s.memoryMb !== want.memoryMb) {
    throw new Error(`--resume: the saved ${s.surface} run has other rules (${rules}; asked: seed ${want.seed}, ${want.cases} cases, ${want.timeoutMs} ms, ${want.memoryMb} MB)`);
  }
  if (s.next >= s.requested) throw new Error(`--resume: the saved ${s.surface} run already ran all ${s.requested} cases`);
  return s;
}

/** A saved file of an older harness (no from/next/wallSeconds/segments): cases [0, cases) ran in one segment. */
function normalise(s: Partial<SavedRun>): SavedRun {
  const r = s as SavedRun;
  const from = s.from ?? 0;
  return {
    ...r,
    from,
    next: s.next ?? from + r.cases,
    wallSeconds: s.wallSeconds ?? (Date.parse(r.updated) - Date.parse(r.started)) / 1000,
    segments: s.segments ?? 1,
    retried: s.retried ?? [],
    cpuSeconds: typeof s.cpuSeconds === 'number' ? s.cpuSeconds : -1,
  };
}

/** The figures of `prev` (or none) followed by the segment `seg` that started at `segStarted`. */
export function mergeRun(prev: SavedRun | null, seg: FuzzReport, segStarted: Date, env: { machine: string; node: string }): SavedRun {
  const now = new Date();
  const segWall = (now.getTime() - segStarted.getTime()) / 1000;
  if (prev === null) {
    return { ...seg, requested: seg.requested + seg.from, complete: seg.from === 0 && seg.next >= seg.requested + seg.from && seg.complete, started: segStarted.toISOString(), updated: now.toISOString(), wallSeconds: segWall, segments: 1, ...env };
  }
  const outcomes: Record<string, number> = { ...prev.outcomes };
  for (const [k, v] of Object.entries(seg.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const slowest = prev.slowest === null || (seg.slowest !== null && seg.slowest.ms > prev.slowest.ms) ? seg.slowest : prev.slowest;
  const cases = prev.cases + seg.cases;
  const seconds = prev.seconds + seg.seconds;
  // -1: unknown (a segment saved by a harness that did not measure CPU time).
  const cpuSeconds = prev.cpuSeconds < 0 ? -1 : prev.cpuSeconds + seg.cpuSeconds;
  return {
    surface: seg.surface,
    seed: seg.seed,
    requested: prev.requested,
    cases,
    seconds,
    casesPerSecond: seconds === 0 ? 0 : cases / seconds,
    cpuSeconds,
    casesPerCpuSecond: cpuSeconds <= 0 ? 0 : cases / cpuSeconds,
    slowest,
    peakMemoryMb: Math.max(prev.peakMemoryMb, seg.peakMemoryMb),
    peakRssGrowthMb: Math.max(prev.peakRssGrowthMb, seg.peakRssGrowthMb),
    crashes: prev.crashes + seg.crashes,
    hangs: prev.hangs + seg.hangs,
    overBudget: prev.overBudget + seg.overBudget,
    outcomes,
    failures: [...prev.failures, ...seg.failures],
    retried: [...prev.retried, ...seg.retried],
    // Every case of [0, requested) ran exactly once: the segments tile the range.
    complete: seg.complete && seg.next >= prev.requested && cases === prev.requested,
    from: prev.from,
    next: seg.next,
    timeoutMs: seg.timeoutMs,
    memoryMb: seg.memoryMb,
    started: prev.started,
    updated: now.toISOString(),
    wallSeconds: prev.wallSeconds + segWall,
    segments: prev.segments + 1,
    // A run continued elsewhere says so: its figures mix machines.
    machine: prev.machine === env.machine ? env.machine : `${prev.machine}, then ${env.machine}`,
    node: prev.node === env.node ? env.node : `${prev.node}, then ${env.node}`,
  };
}
