/**
 * Test support for the real-process proving ground (test/real-live/): the Wine prefix made
 * ready once by test/real-live/prepare-prefix.sh (bcryptprimitives.dll shim), and long-running
 * Windows programs whose output goes to files (a real node.exe gets EBADF on a pipe).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureWinePrefix, wineEnv, WINE_PREFIX } from './wine.ts';

const PREPARE = fileURLToPath(new URL('../real-live/prepare-prefix.sh', import.meta.url));
let prepared = false;

/** Creates the test prefix if needed and installs the shim (once per test process; the script is idempotent). */
export function prepareRealPrefix(): void {
  if (prepared) return;
  ensureWinePrefix();
  const r = spawnSync('bash', [PREPARE], { env: wineEnv(), encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`prepare-prefix.sh failed in ${WINE_PREFIX}: ${r.stderr.trim().split('\n').pop() ?? r.status}`);
  prepared = true;
}

/** A Windows program running under Wine with stdout and stderr in files. */
export interface WineProcess {
  readonly child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  stderr(): string;
  /** True while the process runs. */
  alive(): boolean;
  /** Stops it (SIGKILL after `graceMs`) and waits for it to end. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `exe args...` under Wine in `dir`, stdout and stderr to `dir/NAME.out|.err`. */
export function startWineToFiles(exe: string, args: readonly string[], dir: string, name: string, env: NodeJS.ProcessEnv = {}): WineProcess {
  prepareRealPrefix();
  const outPath = join(dir, `${name}.out`);
  const errPath = join(dir, `${name}.err`);
  const out = openSync(outPath, 'w');
  const errFd = openSync(errPath, 'w');
  const child = spawn('wine', [exe, ...args], { env: { ...wineEnv(), ...env }, cwd: dir, stdio: ['pipe', out, errFd] });
  closeSync(out);
  closeSync(errFd);
  let exited = false;
  const done = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');
  return {
    child,
    stdout: () => read(outPath),
    stderr: () => read(errPath),
    alive: () => !exited && child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 3000) {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(t);
    },
  };
}

/** Polls `check` every 100 ms until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Samples the instruction pointers of every thread of `pid` for `ms` milliseconds through the
 * agent (suspend, read contexts, resume, again): a statistical view of which code runs, with
 * no breakpoint and no change to the target.
 */
export async function sampleThreadIps(pid: number, ms: number, until: () => boolean = () => false): Promise<bigint[]> {
  const { startAgent } = await import('../../runtime/backends/win32-agent.ts');
  const a = await startAgent({ env: wineEnv() });
  if (!a.ok) throw new Error(a.error.message);
  const agent = a.value;
  const ips: bigint[] = [];
  try {
    const o = await agent.request(`open ${pid}`);
    if (!o.ok) throw new Error(o.error.message);
    const end = Date.now() + ms;
    while (Date.now() < end && !until()) {
      const s = await agent.request('suspend');
      if (!s.ok) break;
      for (const t of (s.value['threads'] as { rip?: string }[] | undefined) ?? []) if (typeof t.rip === 'string') ips.push(BigInt(t.rip));
      const r = await agent.request('resume');
      if (!r.ok) break;
    }
  } finally {
    await agent.close();
  }
  return ips;
}
