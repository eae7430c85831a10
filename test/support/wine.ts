/**
 * The Wine helper lives in samples/wine.ts, where the samples' build (recording expected
 * outputs) may import it too: library and build code import no test helper. Tests keep
 * importing it from here.
 */
import { existsSync, readFileSync } from 'node:fs';

export * from '../../samples/wine.ts';

/**
 * How the win32 agent's pause should move memory on this machine (`swap`'s `io`; PROTOCOL.md,
 * "Memory I/O under Wine"): `process_vm` on Linux unless Yama's ptrace_scope is above 0, which
 * refuses process_vm_readv to a process that is not a descendant (the agent is not the
 * target's parent); the agent then keeps the server path. `null` when a seccomp filter is on
 * (a container's profile may or may not let process_vm_readv through): either is right then.
 */
export function expectedAgentIo(): 'process_vm' | 'server' | null {
  if (process.platform !== 'linux') return 'server';
  const yama = '/proc/sys/kernel/yama/ptrace_scope';
  if (existsSync(yama) && readFileSync(yama, 'utf8').trim() !== '0') return 'server';
  const seccomp = /^Seccomp:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return seccomp === undefined || seccomp === '0' ? 'process_vm' : null;
}
