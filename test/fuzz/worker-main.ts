/**
 * Runs the cases of one surface inside a worker thread and reports each one to the harness
 * (test/fuzz/harness.ts): its number, outcome, time (elapsed, and the process's CPU time), and memory (this isolate's heap plus
 * array buffers, which include wasm memory, and the growth of the process's peak RSS).
 * Case `i` of seed `s` always gets the same PRNG, so any case reproduces on its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mulberry32 } from '../support/prng.ts';
import { ALL_SURFACES } from './surfaces.ts';

export interface WorkerJob {
  readonly surface: string;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
}

export type WorkerMessage =
  | { readonly kind: 'ready'; readonly setupMs: number }
  | { readonly kind: 'case'; readonly i: number; readonly outcome: string; readonly ms: number; readonly cpuMs: number; readonly memMb: number; readonly rssGrowthMb: number; readonly crash?: string }
  | { readonly kind: 'done' };

/** The PRNG of case `i` under `seed`. */
export function caseRng(seed: number, i: number): () => number {
  return mulberry32((Math.imul(seed >>> 0, 0x9e37_79b1) ^ Math.imul(i + 1, 0x85eb_ca6b)) >>> 0);
}

const MB = 1024 * 1024;

async function main(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const surface = ALL_SURFACES.find((s) => s.name === job.surface);
  if (surface === undefined) throw new Error(`no fuzz surface ${job.surface}`);
  const t0 = performance.now();
  const run = await surface.setup();
  port.postMessage({ kind: 'ready', setupMs: performance.now() - t0 } satisfies WorkerMessage);
  for (let i = job.from; i < job.to; i++) {
    const rss0 = process.resourceUsage().maxRSS;
    const cpu0 = process.cpuUsage();
    const c0 = performance.now();
    let outcome: string;
    let crash: string | undefined;
    try {
      outcome = await run(i, caseRng(job.seed, i));
    } catch (e) {
      outcome = 'crash';
      crash = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0]!.slice(0, 300);
    }
    const ms = performance.now() - c0;
    const cpu = process.cpuUsage(cpu0);
    const m = process.memoryUsage();
    const msg: WorkerMessage = {
      kind: 'case',
      i,
      outcome,
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      memMb: (m.heapUsed + m.arrayBuffers) / MB,
      rssGrowthMb: (process.resourceUsage().maxRSS - rss0) / 1024,
      ...(crash === undefined ? {} : { crash }),
    };
    port.postMessage(msg);
  }
  port.postMessage({ kind: 'done' } satisfies WorkerMessage);
}

await main(workerData as WorkerJob);
