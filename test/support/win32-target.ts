/**
 * The win32 agent's test target (runtime/backends/win32-agent/test-target): built with mingw-w64,
 * started under Wine, driven through its stdin; and what the tests read about it from /proc.
 */
import { expect } from 'vitest';
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asVa, type Va } from '../../common/types.ts';
import { startWine, WINE_PREFIX } from './wine.ts';

/** The cgroup v1 freezer, to keep a target (or one of its threads) from running for a while. */
export const FREEZER = '/sys/fs/cgroup/freezer';
const SRC = fileURLToPath(new URL('../../runtime/backends/win32-agent/test-target/', import.meta.url));

/** Builds probe.dll, target.exe and peek.exe into `dir`. */
export function buildTargets(dir: string): void {
  for (const [src, out, extra] of [
    ['probe.c', 'probe.dll', ['-shared']],
    ['target.c', 'target.exe', []],
    ['peek.c', 'peek.exe', []],
  ] as const) {
    const r = spawnSync('x86_64-w64-mingw32-gcc', ['-O2', ...extra, '-o', join(dir, out), join(SRC, src)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mingw build of ${src} failed: ${r.stderr}`);
  }
}

export /** A running target.exe and the lines it printed at start. */
interface Target {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  readonly module: Va;
  readonly valueFn: Va;
  readonly heapAlloc: Va;
  /** Sends `run` and returns [value(1), worker calls, odd results]. */
  run(): Promise<[number, number, number]>;
  stop(): Promise<number | null>;
}

export function lineReader(child: ChildProcessWithoutNullStreams): () => Promise<string> {
  let buf = '';
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const l = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  return () =>
    new Promise((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      const t = setTimeout(() => reject(new Error('target printed nothing for 20 s')), 20_000);
      waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
}

export async function startTarget(dir: string, worker: boolean, exe = 'target.exe'): Promise<Target> {
  const child = startWine(join(dir, exe), [join(dir, 'probe.dll'), ...(worker ? ['--worker'] : [])]);
  const next = lineReader(child);
  const fields = new Map<string, string>();
  for (;;) {
    const l = await next();
    if (l === 'ready') break;
    const [k, v] = l.split(' ');
    if (k !== undefined && v !== undefined) fields.set(k, v);
  }
  const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  return {
    child,
    pid: Number(fields.get('pid')),
    module: asVa(BigInt(fields.get('module') ?? '0')),
    valueFn: asVa(BigInt(fields.get('value') ?? '0')),
    heapAlloc: asVa(BigInt(fields.get('heapalloc') ?? '0')),
    async run() {
      child.stdin.write('run\n');
      const m = /^result (-?\d+) calls (\d+) odd (\d+)$/.exec(await next());
      if (!m) throw new Error('target did not answer run');
      return [Number(m[1]), Number(m[2]), Number(m[3])];
    },
    async stop() {
      child.stdin.write('quit\n');
      return exited;
    },
  };
}

/** True when the worker's call count grows within 5 s (it is not left suspended). */
export async function workerProgresses(t: Target): Promise<boolean> {
  const [, c1] = await t.run();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    const [, c2] = await t.run();
    if (c2 > c1) return true;
  }
  return false;
}

/** The Linux pid of the one process whose command line names `exe` (a Wine process: the target). */
export function targetLinuxPid(exe: string): number {
  const linux = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && (() => { try { return readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(exe); } catch { return false; } })());
  expect(linux.length).toBe(1);
  return Number(linux[0]);
}

/** The Linux pid of this prefix's wineserver: the process running wineserver(64) in server-DEV-INO of WINE_PREFIX (Wine's own naming). */
export function wineServerLinuxPid(): number {
  const st = statSync(WINE_PREFIX, { bigint: true });
  const serverDir = `/server-${st.dev.toString(16)}-${st.ino.toString(16)}`;
  const servers = readdirSync('/proc').filter((d) => { try { return /^\d+$/.test(d) && /\/wineserver(64)?$/.test(readlinkSync(`/proc/${d}/exe`)) && readlinkSync(`/proc/${d}/cwd`).endsWith(serverDir); } catch { return false; } });
  expect(servers.length).toBe(1);
  return Number(servers[0]);
}

export function tasksOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}
