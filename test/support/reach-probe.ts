/**
 * The reach probe of the real-process proving ground (test/real-live/probe/reach-probe.c):
 * which of a set of code addresses a running Windows process executes, exactly. It attaches
 * as a debugger under Wine, puts a one-shot int3 at each address, records each one hit (the
 * byte put back, the thread rewound onto it), and on `stop` restores every byte and detaches;
 * the process runs on as before. Built here with mingw-w64, once per test process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.ts';
import { toWinePath, wineEnv } from './wine.ts';

const SOURCE = fileURLToPath(new URL('../real-live/probe/reach-probe.c', import.meta.url));
let built: string | null = null;

/** Builds reach-probe.exe (once per process) and returns its path. */
export function buildReachProbe(): string {
  if (built !== null) return built;
  const exe = join(mkdtempSync(join(tmpdir(), 'hp-reach-probe-')), 'reach-probe.exe');
  const r = spawnSync('x86_64-w64-mingw32-gcc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-s', '-o', exe, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reach-probe.c does not build: ${r.stderr.trim()}`);
  built = exe;
  return exe;
}

/** What one probe run saw. */
export interface ReachResult {
  /** Addresses armed (the distinct addresses given). */
  readonly armed: number;
  /** Addresses executed while armed, in the order first reached. */
  readonly hits: readonly bigint[];
  /** Debug events handled, exceptions among them, and exceptions passed on to the target. */
  readonly events: number;
  readonly exceptions: number;
  readonly passed: number;
}

/** A probe attached to a process: its int3s are in place until `stop`. */
export interface ReachProbe {
  /** Restores every byte, detaches, and returns what was reached. Throws when the probe failed. */
  stop(): Promise<ReachResult>;
  /** Ends the probe process if it still runs (after a failed round; the int3s may stay). */
  kill(): void;
}

/**
 * Attaches the probe to Windows process `pid` and arms `addresses`; resolves once every int3
 * is in place. `dir` holds its files (address list, ready and stop markers, result).
 */
export async function startReachProbe(pid: number, addresses: readonly bigint[], dir: string, timeoutMs = 60_000): Promise<ReachProbe> {
  const exe = buildReachProbe();
  const f = (n: string): string => join(dir, n);
  writeFileSync(f('reach-addrs.txt'), addresses.map((a) => a.toString(16)).join('\n') + '\n');
  const child = spawn('wine', [exe, String(pid), ...['reach-addrs.txt', 'reach-ready', 'reach-stop', 'reach-out.txt'].map((n) => toWinePath(f(n)))], { env: wineEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let status: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((status = code))));
  try {
    await waitFor('the reach probe to arm', timeoutMs, () => {
      if (status !== undefined) throw new Error(`reach probe exited ${status} before arming: ${stderr.trim()}`);
      return existsSync(f('reach-ready')) ? true : undefined;
    }, 50);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}${status === undefined ? `: ${stderr.trim()}` : ''}`);
  }
  return {
    async stop() {
      writeFileSync(f('reach-stop'), '');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      const out = existsSync(f('reach-out.txt')) ? readFileSync(f('reach-out.txt'), 'utf8') : '';
      if (code !== 0 || !/^detached$/m.test(out)) throw new Error(`reach probe exited ${code}: ${stderr.trim() || 'no detach'}`);
      return parseReach(out);
    },
    kill() {
      if (status === undefined) child.kill('SIGKILL');
    },
  };
}

/** Parses the probe's OUT file (see reach-probe.c). */
export function parseReach(text: string): ReachResult {
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  return {
    armed: num(/^armed (\d+)$/m),
    hits: [...text.matchAll(/^hit ([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1]!}`)),
    events: num(/^events (\d+)/m),
    exceptions: num(/ exceptions (\d+)/m),
    passed: num(/ passed (\d+)/m),
  };
}
