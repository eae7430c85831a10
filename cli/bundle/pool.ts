/**
 * The worker pool of `hotpatch bundle`: N worker threads (module-worker.ts), each building
 * one module at a time; jobs are handed out in order as workers free up. When running from
 * the TypeScript sources, each worker registers tsx before importing its entry (workers do
 * not inherit the main thread's loader); compiled JavaScript is imported directly.
 */
import { Worker } from 'node:worker_threads';
import type { Result } from '../../common/errors.ts';
import type { ModuleOutcome } from '../../bundle/build-module.ts';

export interface JobRequest {
  readonly id: number;
  readonly oldBytes: Uint8Array;
  readonly newBytes: Uint8Array;
  readonly moduleName: string;
  readonly skipRefused: boolean;
  readonly keyPem: string | null;
}

export interface JobReply {
  readonly id: number;
  readonly ms: number;
  readonly result: Result<ModuleOutcome>;
}

const ENTRY = new URL(`./module-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

function startWorker(): Worker {
  if (!ENTRY.pathname.endsWith('.ts')) return new Worker(ENTRY);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
  return new Worker(boot, { eval: true });
}

/**
 * Runs every job on `jobs` workers; `onDone` is called as each finishes (progress). A worker
 * that dies fails its job with INTERNAL and is replaced, so the other jobs still run.
 */
export async function runJobs(requests: readonly JobRequest[], jobs: number, onDone: (reply: JobReply) => void): Promise<Map<number, JobReply>> {
  const replies = new Map<number, JobReply>();
  const queue = [...requests];
  const n = Math.max(1, Math.min(jobs, queue.length));
  const lane = async (): Promise<void> => {
    let w = startWorker();
    try {
      for (let req = queue.shift(); req !== undefined; req = queue.shift()) {
        const t0 = performance.now();
        const current = req;
        const reply = await new Promise<JobReply>((resolve) => {
          const fail = (why: string): void => resolve({ id: current.id, ms: performance.now() - t0, result: { ok: false, error: { code: 'INTERNAL', message: why } } });
          const onMessage = (r: JobReply): void => {
            w.off('error', onError);
            w.off('exit', onExit);
            resolve(r);
          };
          const onError = (e: Error): void => {
            w.off('message', onMessage);
            w.off('exit', onExit);
            fail(`worker failed: ${e.message.split('\n')[0] ?? ''}`);
          };
          const onExit = (code: number): void => {
            w.off('message', onMessage);
            w.off('error', onError);
            fail(`worker exited (status ${code})`);
          };
          w.once('message', onMessage);
          w.once('error', onError);
          w.once('exit', onExit);
          w.postMessage(current);
        });
        if (!reply.result.ok && reply.result.error.code === 'INTERNAL') {
          await w.terminate();
          w = startWorker();
        }
        replies.set(reply.id, reply);
        onDone(reply);
      }
    } finally {
      await w.terminate();
    }
  };
  await Promise.all(Array.from({ length: n }, lane));
  return replies;
}
