/**
 * Worker-thread entry of `hotpatch bundle`: runs one module's build (bundle/build-module.ts,
 * the same job as `hotpatch build`) per message and posts the outcome back. A thrown error
 * (a bug) is posted as an INTERNAL outcome so one module's crash never stops the others.
 */
import { parentPort } from 'node:worker_threads';
import { buildModule, type ModuleJob } from '../../bundle/build-module.ts';
import { importSigningKey, type SigningKey } from '../../formats/keys.ts';
import type { JobRequest, JobReply } from './pool.ts';

let key: { pem: string; key: SigningKey } | null = null;

async function run(req: JobRequest): Promise<JobReply> {
  const t0 = performance.now();
  try {
    let signingKey: SigningKey | undefined;
    if (req.keyPem !== null) {
      if (key?.pem !== req.keyPem) {
        const k = await importSigningKey(req.keyPem);
        if (!k.ok) return { id: req.id, ms: performance.now() - t0, result: k };
        key = { pem: req.keyPem, key: k.value };
      }
      signingKey = key.key;
    }
    const job: ModuleJob = { oldBytes: req.oldBytes, newBytes: req.newBytes, moduleName: req.moduleName, skipRefused: req.skipRefused };
    const result = await buildModule(job, signingKey);
    return { id: req.id, ms: performance.now() - t0, result };
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'error';
    return { id: req.id, ms: performance.now() - t0, result: { ok: false, error: { code: 'INTERNAL', message } } };
  }
}

parentPort?.on('message', (req: JobRequest) => {
  void run(req).then((reply) => parentPort?.postMessage(reply));
});
