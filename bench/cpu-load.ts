/**
 * A reproducible CPU load for pause measurements: N child processes that each spin on a core
 * at nice 0 (`node -e 'for(;;);'`), each in its own session, so a target's threads and the wineserver must wait for a
 * core as on a busy machine. `startCpuLoad(n)` starts them and returns the function that kills
 * exactly those children (by their pids). Used by bench/agent-ab.ts (`BENCH_LOAD=N`) and the
 * `real-processes` section's loaded row (`BENCH_LOADED=N`).
 */
import { spawn } from 'node:child_process';

export function startCpuLoad(n: number): () => void {
  // detached: each in a session of its own, so each is its own autogroup (kernel.sched_autogroup_enabled), as another program on the machine would be.
  const kids = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore', detached: true }));
  return () => {
    for (const k of kids) if (k.exitCode === null && k.pid !== undefined) k.kill('SIGKILL');
  };
}

