/**
 * A reproducible CPU load for pause measurements: N child processes that each spin on a core
 * at nice 0 (a `node -e` busy loop), each in its own session, so a target's threads and the wineserver must wait for a
 * core as on a busy machine. `startCpuLoad(n)` starts them and returns the function that kills
 * exactly those children (by their pids). Used by bench/agent-ab.ts (`BENCH_LOAD=N`) and the
 * `real-processes` section's loaded row (`BENCH_LOADED=N`).
 */
import { spawn } from 'node:child_process';

/**
 * The busy loop: it spins, and every few million turns checks that the bench that started it
 * is alive, and exits when it is not. Detached children outlive a bench that is killed (a
 * timeout, ^C): eight left from one run spun for two hours on a 2-core machine.
 */
const SPIN = `const p = ${process.pid}; for (let i = 0; ; i++) if ((i & 0x3fffff) === 0) { try { process.kill(p, 0); } catch { process.exit(0); } }`;

export function startCpuLoad(n: number): () => void {
  // detached: each in a session of its own, so each is its own autogroup (kernel.sched_autogroup_enabled), as another program on the machine would be.
  const kids = Array.from({ length: n }, () => spawn(process.execPath, ['-e', SPIN], { stdio: 'ignore', detached: true }));
  return () => {
    for (const k of kids) if (k.exitCode === null && k.pid !== undefined) k.kill('SIGKILL');
  };
}

