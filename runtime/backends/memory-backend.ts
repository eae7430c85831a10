/**
 * The in-memory backend: executes write-plan steps against a ProcessImage with the same
 * semantics a live process has (protections enforced, allocations at 64K granularity,
 * redirects compared before written and only while threads are suspended, the thread rule
 * applied to the image's simulated instruction pointers, a region freed only when no simulated
 * thread runs in it, else kept allocated as the win32 agent keeps it).
 *
 * For tests it counts executed steps (a refused package must execute none) and can inject
 * a fault at the Nth step (the step fails and changes nothing, like a failing
 * WriteProcessMemory), so the transactional executor's rollback can be proven.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex, type Va } from '../../common/types.ts';
import { stubFor, type ProcessImage } from '../image/process-image.ts';
import { ipInRanges, type ProcessBackend, type ProtectionRun, type TargetModule } from '../plan/backend.ts';
import { quiescentOwner, type StepObservation, type VaRange, type WriteStep } from '../plan/write-plan.ts';

const sleep = (ms: number): Promise<void> =>
  ms <= 0 || typeof setTimeout === 'undefined' ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));

/** A ProcessBackend over an in-memory ProcessImage (see the module comment). */
export class MemoryBackend implements ProcessBackend {
  readonly kind = 'memory';
  readonly module: TargetModule;
  /** Steps executed successfully (every op). */
  executed = 0;
  /** Steps that changed memory, protections or registrations. */
  mutations = 0;
  /** Threads are suspended between a suspend-threads and a resume-threads step. */
  suspended = false;
  /** How many suspend attempts the last suspend-threads step needed. */
  lastSuspendAttempts = 0;
  /**
   * Regions a `free` left allocated because a simulated thread's IP lay in them (the win32
   * agent defers frees to commit and keeps a region a thread may still run in: a leak, never a
   * crash).
   */
  readonly kept: Va[] = [];
  private faultCountdown: number | null = null;

  constructor(readonly image: ProcessImage) {
    this.module = { base: image.base, sizeOfImage: image.sizeOfImage, name: image.name };
  }

  /** Makes the `n`th next execute call (0 = the very next) fail without effect: APPLY_FAULT_INJECTED. */
  injectFault(n: number): void {
    this.faultCountdown = n;
  }

  read(address: Va, size: number): Promise<Result<Uint8Array>> {
    return Promise.resolve(this.image.space.read(address, size));
  }

  queryProtection(address: Va, size: number): Promise<Result<readonly ProtectionRun[]>> {
    return Promise.resolve(this.image.space.query(address, size));
  }

  findFreeRegion(near: VaRange, size: number): Promise<Result<Va>> {
    return Promise.resolve(this.image.space.findFree(near, size));
  }

  resolveImport(dll: string, name: string | null, ordinal: number | null): Promise<Result<Va>> {
    return Promise.resolve(stubFor(this.image, dll, name, ordinal));
  }

  async execute(step: WriteStep): Promise<Result<StepObservation>> {
    if (this.faultCountdown !== null) {
      if (this.faultCountdown === 0) {
        this.faultCountdown = null;
        return err('APPLY_FAULT_INJECTED', `injected fault at ${step.op}`);
      }
      this.faultCountdown--;
    }
    const r = await this.run(step);
    if (r.ok) {
      this.executed++;
      if (step.op !== 'flush' && step.op !== 'suspend-threads' && step.op !== 'resume-threads') this.mutations++;
    }
    return r;
  }

  private async run(step: WriteStep): Promise<Result<StepObservation>> {
    const space = this.image.space;
    switch (step.op) {
      case 'allocate': {
        const r = space.allocate(step.address, step.size, step.protection);
        return r.ok ? ok({}) : r;
      }
      case 'write': {
        // A writable page is readable, so this read only fails where the write would.
        const before = space.read(step.address, step.bytes.length);
        const w = space.write(step.address, step.bytes);
        if (!w.ok) return w;
        return ok(before.ok ? { previousBytes: before.value } : {});
      }
      case 'protect': {
        const r = space.protect(step.address, step.size, step.protection);
        return r.ok ? ok({ previousProtection: r.value }) : r;
      }
      case 'flush': {
        const r = space.query(step.address, step.size);
        return r.ok ? ok({}) : r;
      }
      case 'register-unwind': {
        if (this.image.functionTables.some((t) => t.table === step.table)) return err('APPLY_UNWIND', `function table at ${hex(step.table)} is already registered`);
        const r = space.read(step.table, step.entryCount * 12);
        if (!r.ok) return err('APPLY_UNWIND', `function table at ${hex(step.table)} is not readable: ${r.error.message}`);
        this.image.functionTables.push({ table: step.table, entryCount: step.entryCount, base: step.base });
        return ok({});
      }
      case 'deregister-unwind': {
        const i = this.image.functionTables.findIndex((t) => t.table === step.table);
        if (i < 0) return err('APPLY_UNWIND', `no function table is registered at ${hex(step.table)}`);
        this.image.functionTables.splice(i, 1);
        return ok({});
      }
      case 'suspend-threads': {
        if (this.suspended) return err('APPLY_THREADS', 'threads are already suspended');
        const attempts = Math.max(1, step.attempts);
        for (let a = 1; a <= attempts; a++) {
          const ips = this.image.threadIps();
          const busy = ips.find((ip) => ipInRanges(ip, step.avoid));
          // Format 2.4: a simulated thread has no stack, so its IP alone is checked against the quiescent ranges.
          const quiet = busy === undefined ? (step.quiescent ?? []).find((q) => ips.some((ip) => ipInRanges(ip, [q]))) : undefined;
          this.lastSuspendAttempts = a;
          if (busy === undefined && quiet === undefined) {
            this.suspended = true;
            return ok({ threadIps: ips });
          }
          if (a === attempts && quiet !== undefined)
            return err('APPLY_THREAD_IN_OLD_CALLER', `a thread stayed inside ${quiescentOwner(quiet.name)} (quiescent range ${hex(quiet.start)}+0x${quiet.size.toString(16)}) for ${attempts} attempts: it would call a changed callee the old way`);
          if (a === attempts && busy !== undefined) return err('APPLY_THREAD_BUSY', `a thread is executing at ${hex(busy)}, inside bytes being replaced, after ${attempts} attempts`);
          await sleep(step.retryDelayMs);
        }
        return err('APPLY_THREAD_BUSY', 'threads never left the bytes being replaced');
      }
      case 'redirect': {
        if (!this.suspended) return err('APPLY_THREADS', `redirect at ${hex(step.address)} while threads run`);
        const cur = space.read(step.address, step.expected.length);
        if (!cur.ok) return cur;
        if (step.expected.length !== step.bytes.length || cur.value.some((b, i) => b !== step.expected[i])) {
          return err('APPLY_EXPECTED_BYTES', `redirect at ${hex(step.address)}: memory no longer holds the expected bytes`);
        }
        const w = space.write(step.address, step.bytes);
        return w.ok ? ok({ previousBytes: cur.value }) : w;
      }
      case 'resume-threads':
        this.suspended = false;
        return ok({});
      case 'free': {
        const region = space.regionAt(step.address);
        if (region === undefined || region.base !== step.address || region.kind !== 'allocation') return err('APPLY_FREE', `no allocation of this tool starts at ${hex(step.address)}`);
        if (this.image.threadIps().some((ip) => ipInRanges(ip, [{ start: region.base, size: region.size }]))) {
          this.kept.push(region.base);
          return ok({});
        }
        const prot = space.query(region.base, region.size);
        if (!prot.ok) return prot;
        const bytes = region.bytes.slice();
        const f = space.free(step.address);
        return f.ok ? ok({ freed: { bytes, protection: prot.value } }) : f;
      }
    }
  }
}
