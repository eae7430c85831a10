/**
 * The fuzz harness: runs a surface's cases in a worker thread under a per-case watchdog.
 *
 *  - time: each case must report within the surface's timeoutMs (times `timeScale`); if it
 *    does not, the worker is terminated, the case is recorded as a hang, and a fresh worker
 *    carries on with the next case;
 *  - memory: the worker runs with V8 heap limits (resourceLimits), so a case that fills the
 *    heap kills it (over budget); after each case the worker's heap plus array buffers (which
 *    include wasm memory and typed arrays, invisible to the heap limit) and the growth of the
 *    process's peak RSS during the case must stay under `memoryMb` (over budget otherwise);
 *  - crashes: a case that throws, or breaks its surface's invariants, is a crash.
 * A failing case is identified by (surface, seed, case) and reproduces on its own.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerJob, WorkerMessage } from './worker-main.ts';
import { ALL_SURFACES } from './surfaces.ts';

export type FailureKind = 'crash' | 'hang' | 'over-budget';

/** One failing case. */
export interface FuzzFailure {
  readonly surface: string;
  readonly seed: number;
  readonly case: number;
  readonly kind: FailureKind;
  readonly detail: string;
}

/** What a run of one surface measured. */
export interface FuzzReport {
  readonly surface: string;
  readonly seed: number;
  readonly requested: number;
  readonly cases: number;
  readonly seconds: number;
  readonly casesPerSecond: number;
  /** CPU time of the process during the cases (all its threads: the case, GC, the harness), and cases over it: the rate an idle core would give. */
  readonly cpuSeconds: number;
  readonly casesPerCpuSecond: number;
  readonly slowest: { readonly case: number; readonly ms: number; readonly outcome: string } | null;
  /** Highest heap + array buffers seen after a case, and highest peak-RSS growth in one case. */
  readonly peakMemoryMb: number;
  readonly peakRssGrowthMb: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly overBudget: number;
  readonly outcomes: Record<string, number>;
  readonly failures: readonly FuzzFailure[];
  /** Cases that missed their time limit once and then passed when run again alone. */
  readonly retried: readonly number[];
  /** False when the run stopped early (time limit) before `requested` cases. */
  readonly complete: boolean;
  /** The first case of this run, and the first it has not run yet (a checkpoint: cases [from, next) are counted above). */
  readonly from: number;
  readonly next: number;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

export interface FuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** Per-case memory budget (heap + array buffers, and peak-RSS growth). */
  readonly memoryMb?: number;
  /** Multiplies each surface's per-case time limit (a loaded machine). */
  readonly timeScale?: number;
  /** Stop starting new cases after this time (Date.now() ms); the report says incomplete. */
  readonly stopAt?: number;
  /** Called about every `progressMs` with the report so far. */
  readonly onProgress?: (r: FuzzReport) => void;
  readonly progressMs?: number;
  /** First case (default 0): runs cases [from, cases). */
  readonly from?: number;
  /** Re-run a case that missed its time limit once before calling it a hang (default true). */
  readonly retry?: boolean;
}

const WORKER = new URL('./worker.js', import.meta.url);
/** Default per-case memory budget: far above any honest case on the sample corpus, far below the greedy ones (1-8 GB). */
export const DEFAULT_MEMORY_MB = 512;

/** Runs `surface` for `opts.cases` cases (see the module comment). */
export async function runSurface(name: string, opts: FuzzOptions): Promise<FuzzReport> {
  const surface = ALL_SURFACES.find((s) => s.name === name);
  if (surface === undefined) throw new Error(`no fuzz surface ${name}`);
  const memoryMb = opts.memoryMb ?? DEFAULT_MEMORY_MB;
  const timeoutMs = surface.timeoutMs * (opts.timeScale ?? 1);
  const outcomes: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  let done = 0;
  let slowest: FuzzReport['slowest'] = null;
  let peakMemoryMb = 0;
  let peakRssGrowthMb = 0;
  let caseTime = 0;
  let cpuTime = 0;
  let next = opts.from ?? 0;
  let stoppedEarly = false;
  const retried: number[] = [];
  const fail = (i: number, kind: FailureKind, detail: string): void => {
    failures.push({ surface: name, seed: opts.seed, case: i, kind, detail });
  };
  const report = (complete: boolean): FuzzReport => ({
    surface: name,
    seed: opts.seed,
    requested: opts.cases - (opts.from ?? 0),
    cases: done,
    seconds: caseTime / 1000,
    casesPerSecond: caseTime === 0 ? 0 : done / (caseTime / 1000),
    cpuSeconds: cpuTime / 1000,
    casesPerCpuSecond: cpuTime === 0 ? 0 : done / (cpuTime / 1000),
    slowest,
    peakMemoryMb: Math.round(peakMemoryMb * 10) / 10,
    peakRssGrowthMb: Math.round(peakRssGrowthMb * 10) / 10,
    crashes: failures.filter((f) => f.kind === 'crash').length,
    hangs: failures.filter((f) => f.kind === 'hang').length,
    overBudget: failures.filter((f) => f.kind === 'over-budget').length,
    outcomes,
    failures,
    retried,
    complete,
    from: opts.from ?? 0,
    next,
    timeoutMs,
    memoryMb,
  });
  let lastProgress = Date.now();

  while (next < opts.cases && !stoppedEarly) {
    // One worker runs cases [next, cases) until it finishes, hangs, or dies.
    const job: WorkerJob = { surface: name, seed: opts.seed, from: next, to: opts.cases };
    const worker = new Worker(WORKER, {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: 64 },
    });
    const ended = await new Promise<{ kind: 'done' } | { kind: 'hang' } | { kind: 'died'; detail: string } | { kind: 'stopped' }>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      let caseStart = 0;
      let settled = false;
      const settle = (v: Parameters<typeof resolve>[0]): void => {
        if (settled) return;
        settled = true;
        if (timer !== null) clearTimeout(timer);
        resolve(v);
      };
      const arm = (ms: number): void => {
        if (timer !== null) clearTimeout(timer);
        caseStart = performance.now();
        timer = setTimeout(() => settle({ kind: 'hang' }), ms);
      };
      // Setup (tsx compile, wasm instantiation, fixtures) gets its own, generous limit.
      arm(Math.max(120_000, timeoutMs));
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'ready') {
          arm(timeoutMs);
          return;
        }
        if (m.kind === 'done') {
          settle({ kind: 'done' });
          return;
        }
        const wall = performance.now() - caseStart;
        caseTime += m.ms;
        cpuTime += m.cpuMs;
        done++;
        next = m.i + 1;
        outcomes[m.outcome] = (outcomes[m.outcome] ?? 0) + 1;
        if (slowest === null || m.ms > slowest.ms) slowest = { case: m.i, ms: Math.round(m.ms * 10) / 10, outcome: m.outcome };
        peakMemoryMb = Math.max(peakMemoryMb, m.memMb);
        peakRssGrowthMb = Math.max(peakRssGrowthMb, m.rssGrowthMb);
        if (m.crash !== undefined) fail(m.i, 'crash', m.crash);
        else if (m.memMb > memoryMb || m.rssGrowthMb > memoryMb) fail(m.i, 'over-budget', `heap+buffers ${m.memMb.toFixed(0)} MB, peak RSS +${m.rssGrowthMb.toFixed(0)} MB (budget ${memoryMb} MB)`);
        else if (wall > timeoutMs) fail(m.i, 'hang', `${wall.toFixed(0)} ms (limit ${timeoutMs} ms)`);
        if (opts.onProgress !== undefined && Date.now() - lastProgress > (opts.progressMs ?? 30_000)) {
          lastProgress = Date.now();
          opts.onProgress(report(false));
        }
        if (opts.stopAt !== undefined && Date.now() >= opts.stopAt && next < opts.cases) {
          stoppedEarly = true;
          settle({ kind: 'stopped' });
          return;
        }
        arm(timeoutMs);
      });
      worker.on('error', (e: Error & { code?: string }) => settle({ kind: 'died', detail: `${e.code ?? e.name}: ${e.message.split('\n')[0]}` }));
      worker.on('exit', (code) => settle({ kind: 'died', detail: `worker exited with code ${code}` }));
    });
    await worker.terminate();
    if (ended.kind === 'hang') {
      // On a shared machine a case can miss its limit because the process was starved (or
      // the worker's first case paid for JIT warm-up). It runs once more, alone in a fresh
      // worker with the same limit: a real hang hangs again; one that then passes is counted
      // in `retried` and its second time is what the report keeps.
      const again = opts.retry === false ? null : await runSurface(name, { cases: next + 1, seed: opts.seed, from: next, retry: false, ...(opts.memoryMb === undefined ? {} : { memoryMb: opts.memoryMb }), ...(opts.timeScale === undefined ? {} : { timeScale: opts.timeScale }) });
      if (again !== null && again.hangs === 0 && again.crashes === 0 && again.overBudget === 0 && again.cases === 1) {
        retried.push(next);
        for (const [k, v] of Object.entries(again.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
        caseTime += again.seconds * 1000;
        cpuTime += again.cpuSeconds * 1000;
        if (again.slowest !== null && (slowest === null || again.slowest.ms > slowest.ms)) slowest = again.slowest;
      } else fail(next, 'hang', `no answer within ${timeoutMs} ms (twice)`);
      done++;
      next++;
    } else if (ended.kind === 'died') {
      const oom = /ERR_WORKER_OUT_OF_MEMORY|heap out of memory|Array buffer allocation failed|RangeError/.test(ended.detail);
      fail(next, oom ? 'over-budget' : 'crash', ended.detail);
      done++;
      next++;
    }
  }
  return report(!stoppedEarly && next >= opts.cases);
}
