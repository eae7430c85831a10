/**
 * The external baselines, run as processes exactly as a user would run them: Debian's
 * bsdiff/bspatch, xdelta3 and zstd. Also the machine and tool description the report
 * opens with. Node-only (processes and files), like the rest of bench/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { summarizeTimes, type Timing } from './stats.ts';

/** A tool invocation that failed; the message is one line. */
export class ToolError extends Error {}

/** Generous: bsdiff on the 19 MB pair takes ~30 s on a loaded 2-core machine. */
const TOOL_TIMEOUT_MS = 20 * 60_000;

/** Runs `cmd args` once and returns its wall time in ms; throws ToolError on failure. */
export function runTool(cmd: string, args: readonly string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  const ms = performance.now() - t;
  if (r.error !== undefined) throw new ToolError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new ToolError(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n')[0] ?? ''}`);
  return ms;
}

/** Runs `cmd args` once without blocking; resolves to its wall time in ms, rejects with a ToolError. */
export function runToolAsync(cmd: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: TOOL_TIMEOUT_MS });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(performance.now() - t);
      else reject(new ToolError(`${cmd} ${args.join(' ')}: exit ${code ?? signal}: ${stderr.trim().split('\n')[0] ?? ''}`));
    });
  });
}

/**
 * Runs jobs whose output size is all that is measured (not their time), at most `limit` at
 * once: on the 19 MB pair the three zstd -19 runs take minutes each one after another.
 */
export async function runConcurrently(jobs: ReadonlyArray<readonly [string, readonly string[]]>, limit: number): Promise<void> {
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await runToolAsync(job[0], job[1]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
}

/** Runs `cmd args` `n` times; the timing of those runs (the output of the last one stays). */
export function timeTool(cmd: string, args: readonly string[], n: number): Timing {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(runTool(cmd, args));
  return summarizeTimes(samples);
}

/** Size of a file in bytes. */
export function fileSize(path: string): number {
  return statSync(path).size;
}

/** True when two files hold the same bytes (checks the baselines' round trips). */
export function sameFile(a: string, b: string): boolean {
  return Buffer.compare(readFileSync(a), readFileSync(b)) === 0;
}

function firstLine(cmd: string, args: readonly string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return re.exec(text)?.[1] ?? 'unknown';
}

/** Versions of the baseline tools and of their Debian packages. */
export interface ToolVersions {
  readonly bsdiff: string;
  readonly xdelta3: string;
  readonly zstd: string;
}

/** Tool versions: zstd and xdelta3 say theirs; bsdiff has no --version, so its Debian package version. */
export function toolVersions(): ToolVersions {
  const deb = (pkg: string): string => firstLine('dpkg-query', ['-W', '-f', '${Version}\n', pkg], /^(\S+)/m);
  return {
    bsdiff: `bsdiff (Debian package ${deb('bsdiff')})`,
    xdelta3: `xdelta3 ${firstLine('xdelta3', ['-V'], /Xdelta version (\S+),/)} (Debian package ${deb('xdelta3')})`,
    zstd: `zstd ${firstLine('zstd', ['--version'], /\b(v\d+\.\d+\.\d+)/)} (Debian package ${deb('zstd')})`,
  };
}

/** The machine a report was measured on. */
export interface MachineInfo {
  readonly node: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started: other work on a shared machine shows up in every timing. */
  readonly loadAverage: number;
}

/** Describes this machine (cpu model, cores, memory, Node version, load). */
export function machineInfo(): MachineInfo {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
