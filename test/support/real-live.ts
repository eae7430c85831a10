/**
 * Test support for the real-process proving ground (test/real-live/): the Wine prefix made
 * ready once by test/real-live/prepare-prefix.sh (bcryptprimitives.dll shim), and long-running
 * Windows programs whose output goes to files (a real node.exe gets EBADF on a pipe).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PauseParts } from '../../runtime/backends/win32-agent.ts';
import { runHotpatchAsync } from './cli.ts';
import { startReachProbe, type ReachProbe, type ReachResult } from './reach-probe.ts';
import { waitFor } from './wait-for.ts';
import { ensureWinePrefix, toWinePath, wineEnv, WINE_PREFIX } from './wine.ts';

export { waitFor };

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


// ---- the addon round trip (shared by test/real-live/napi-addons.test.ts and bench/sections/real-processes.ts)

/** What one addon pair's live round trip measured. */
export interface AddonRoundTrip {
  readonly label: string;
  readonly packageBytes: number;
  readonly redirects: number;
  readonly carried: number;
  readonly pauseMs: number;
  /** What the pause consisted of (the agent's `swap` answer), or null when it was not one swap. */
  readonly pauseParts: PauseParts | null;
  /** Start node.exe, load NEW, one workload round, exit. */
  readonly restartMs: number;
  /** Redirected functions (distinct redirect targets) whose new body was entered during round 2 (reach probe). */
  readonly reached: number;
  /** The distinct redirect targets: the functions a redirect sends OLD callers to. */
  readonly redirected: number;
  /** Carried functions (redirected, and added ones only new code calls) entered during round 2. */
  readonly carriedReached: number;
  /** The names (or body VAs) of the redirected functions reached. */
  readonly reachedNames: readonly string[];
  /** The probe's own counts (debug events handled, exceptions passed on to node.exe). */
  readonly probe: Omit<ReachResult, 'hits'>;
  readonly timerCalls: number;
  readonly timerErrors: number;
  /** Round outputs: NEW alone, OLD before, live after the patch, after revert. */
  readonly newAlone: string;
  readonly oldBefore: string;
  readonly patched: string;
  readonly reverted: string;
  readonly aliveAtEnd: boolean;
  /** Per agent compared (AgentComparison): the pauses of its live applies and of its reverts (ms). */
  readonly compared: readonly { readonly agent: string; readonly applyMs: readonly number[]; readonly revertMs: readonly number[] }[];
  /** The output of a round after the comparison cycles (they end reverted: must equal OLD). */
  readonly afterCompare: string | null;
}

/**
 * Agent builds to compare on the same process (`HOTPATCH_AGENT_EXE`): after the round trip,
 * `cycles` times, each agent in turn applies the package live and reverts it; their pauses
 * are recorded. The bench runs the committed agent against an earlier build this way.
 */
export interface AgentComparison {
  readonly agents: readonly { readonly name: string; readonly exe: string }[];
  readonly cycles: number;
}

const HARNESS_CJS = fileURLToPath(new URL('../real-live/workloads/harness.cjs', import.meta.url));
const NODE_ENV = { NODE_SKIP_PLATFORM_CHECK: '1' };

/**
 * Runs one addon pair through the proving ground (see test/real-live/README.md): NEW alone
 * (timed), OLD in a long-running node.exe, build --skip-refused, live, round 2 with the reach
 * probe armed at the entry of every carried function (test/support/reach-probe.ts), revert,
 * round 3. Throws when a step fails (the node.exe process dying included).
 */
export async function addonRoundTrip(nodeExe: string, label: string, workload: string, oldPath: string, newPath: string, compare?: AgentComparison): Promise<AddonRoundTrip> {
  prepareRealPrefix();
  const dir = mkdtempSync(join(tmpdir(), `hp-real-live-${workload}-`));
  let proc: WineProcess | null = null;
  let probe: ReachProbe | null = null;
  try {
    const newDir = join(dir, 'new');
    const liveDir = join(dir, 'live');
    mkdirSync(newDir);
    mkdirSync(liveDir);
    const t0 = performance.now();
    const once = spawnSync('wine', [nodeExe, toWinePath(HARNESS_CJS), workload, toWinePath(newPath), toWinePath(newDir), 'once'], { env: { ...wineEnv(), ...NODE_ENV }, stdio: 'ignore', timeout: 300_000 });
    const restartMs = performance.now() - t0;
    if (once.status !== 0) throw new Error(`node.exe ${workload} once exited ${once.status}`);
    const newAlone = readFileSync(join(newDir, 'round-1.txt'), 'utf8');

    const p = startWineToFiles(nodeExe, [toWinePath(HARNESS_CJS), workload, toWinePath(oldPath), toWinePath(liveDir), 'serve'], liveDir, 'node', NODE_ENV);
    proc = p;
    const roundFile = (k: number): string => join(liveDir, `round-${k}.txt`);
    let stage = 'round 1';
    const dead = (): never => {
      const how = p.child.signalCode ?? `code ${p.child.exitCode}`;
      const stdout = p.stdout().trim().split('\n').slice(-3).join(' | ');
      throw new Error(`node.exe exited (${how}) during ${stage}: stderr ${JSON.stringify(p.stderr().trim().split('\n').slice(-3).join(' | '))}, stdout ${JSON.stringify(stdout)}`);
    };
    const awaitRound = (k: number): Promise<string> => ((stage = `round ${k}`), waitFor(`round ${k}`, 120_000, () => (existsSync(roundFile(k)) ? readFileSync(roundFile(k), 'utf8') : p.alive() ? undefined : dead())));
    const round = (k: number): Promise<string> => {
      writeFileSync(join(liveDir, `go-${k}`), '');
      return awaitRound(k);
    };
    const oldBefore = await awaitRound(1);
    const pid = Number(readFileSync(join(liveDir, 'pid'), 'utf8'));
    const pkg = join(dir, 'p.hpk');
    const built = await runHotpatchAsync(['build', oldPath, newPath, '-o', pkg, '--unsigned', '--skip-refused']);
    if (built.status !== 0) throw new Error(`build exited ${built.status}: ${built.stderr.trim()}`);
    const live = await runHotpatchAsync(['live', pkg, '--pid', String(pid), '--allow-unsigned', '--json'], wineEnv());
    if (live.status !== 0) throw new Error(`live exited ${live.status}: ${live.stderr.trim()}`);
    const j = JSON.parse(live.stdout) as { base: string; redirects: { name: string | null; target: string }[]; functions: { name: string | null; oldVa: string | null; bodyVa: string; size: number }[]; timing: { pauseUs: number; pauseParts?: PauseParts[] } };
    // Round 2 with a one-shot int3 at the entry of every carried body: what the patched round
    // executes of the new code, exactly.
    const targets = [...new Set(j.redirects.map((r) => BigInt(r.target)))];
    const entries = [...new Set([...targets, ...j.functions.map((f) => BigInt(f.bodyVa))])];
    // The timer is held quiet from before the probe arms until it detaches: the count is round 2's.
    writeFileSync(join(liveDir, 'quiet'), '');
    await waitFor('the timer to go quiet', 30_000, () => (existsSync(join(liveDir, 'quiet-ack')) ? true : p.alive() ? undefined : dead()));
    probe = entries.length === 0 ? null : await startReachProbe(pid, entries, liveDir);
    const patched = await round(2);
    const reach = probe === null ? { armed: 0, hits: [], events: 0, exceptions: 0, passed: 0 } : await probe.stop();
    rmSync(join(liveDir, 'quiet'));
    if (!p.alive()) dead();
    const hit = new Set(reach.hits);
    // A function's name, else its OLD RVA (as `hotpatch diff` and `inspect` list it).
    const nameOf = (va: bigint): string => {
      const f = j.functions.find((g) => BigInt(g.bodyVa) === va);
      return f?.name ?? (f?.oldVa == null ? `new body 0x${va.toString(16)}` : `old 0x${(BigInt(f.oldVa) - BigInt(j.base)).toString(16)}`);
    };
    const reachedTargets = targets.filter((t) => hit.has(t));
    const rv = await runHotpatchAsync(['revert', '--pid', String(pid)], wineEnv());
    if (rv.status !== 0) throw new Error(`revert exited ${rv.status}: ${rv.stderr.trim()}`);
    const reverted = await round(3);
    const [timerCalls = 0, timerErrors = 0] = readFileSync(join(liveDir, 'ticks-3.txt'), 'utf8').trim().split(' ').map(Number);
    const compared = (compare?.agents ?? []).map((a) => ({ agent: a.name, applyMs: [] as number[], revertMs: [] as number[] }));
    for (let c = 0; c < (compare?.cycles ?? 0); c++)
      for (const [k, a] of (compare?.agents ?? []).entries()) {
        const env = { ...wineEnv(), HOTPATCH_AGENT_EXE: a.exe };
        const l = await runHotpatchAsync(['live', pkg, '--pid', String(pid), '--allow-unsigned', '--json'], env);
        if (l.status !== 0) throw new Error(`live (${a.name}) exited ${l.status}: ${l.stderr.trim()}`);
        const v = await runHotpatchAsync(['revert', '--pid', String(pid), '--json'], env);
        if (v.status !== 0) throw new Error(`revert (${a.name}) exited ${v.status}: ${v.stderr.trim()}`);
        compared[k]!.applyMs.push((JSON.parse(l.stdout) as { timing: { pauseUs: number } }).timing.pauseUs / 1000);
        compared[k]!.revertMs.push((JSON.parse(v.stdout) as { pauseUs: number }).pauseUs / 1000);
      }
    const afterCompare = compare === undefined ? null : await round(4);
    const aliveAtEnd = p.alive();
    writeFileSync(join(liveDir, 'quit'), '');
    return {
      label,
      packageBytes: statSync(pkg).size,
      redirects: j.redirects.length,
      carried: j.functions.length,
      pauseMs: j.timing.pauseUs / 1000,
      pauseParts: j.timing.pauseParts?.length === 1 ? j.timing.pauseParts[0]! : null,
      restartMs,
      reached: reachedTargets.length,
      redirected: targets.length,
      carriedReached: j.functions.filter((f) => hit.has(BigInt(f.bodyVa))).length,
      reachedNames: reachedTargets.map(nameOf),
      probe: { armed: reach.armed, events: reach.events, exceptions: reach.exceptions, passed: reach.passed },
      timerCalls,
      timerErrors,
      newAlone,
      oldBefore,
      patched,
      reverted,
      aliveAtEnd,
      compared,
      afterCompare,
    };
  } finally {
    probe?.kill();
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether this CPU runs is_utf8's AVX-512 ("icelake") kernel, the only function of
 * utf-8-validate 6.0.4 -> 6.0.5 the workload enters that the package carries: the library picks
 * its kernel at run time from the CPU's features, so what round 2 can reach depends on the
 * machine. Read from /proc/cpuinfo (Linux, where Wine runs the test); elsewhere assumed true,
 * the stronger expectation.
 */
function hasAvx512Kernel(): boolean {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return true;
  }
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? []);
  return ['avx512f', 'avx512bw', 'avx512vl', 'avx512_vbmi2'].every((f) => flags.has(f));
}

/**
 * The addon pairs of the proving ground, with their workload (test/real-live/workloads/<workload>.cjs).
 * A pair whose package redirects functions must have its round 2 reach at least one of them
 * (the reach probe), unless `unreached` says why no workload can: then it must reach none,
 * so a stale reason fails the test too (test/real-live/README.md, "What each workload reaches").
 */
export const REAL_LIVE_ADDONS: readonly { readonly label: string; readonly workload: string; readonly unreached?: string }[] = [
  { label: 'crc32-1.10.3-1.10.4', workload: 'crc32' },
  {
    label: 'bufferutil-4.0.8-4.0.9',
    workload: 'bufferutil',
    unreached: 'the binding functions mask (0x1040) and unmask (0x12d0) are left old (they share .data with 0x17490, changed and not carried); no other carried function is entered by the calls, a worker thread attach/detach or the module init (test/real-live/README.md)',
  },
  { label: 'watcher-2.5.0-2.5.1', workload: 'watcher' },
  { label: 'watcher-2.5.4-2.5.6', workload: 'watcher' },
  { label: 'rollup-4.64.8-4.64.9', workload: 'rollup' },
  { label: 'rollup-4.64.7-4.64.8', workload: 'rollup' },
  {
    label: 'bufferutil-4.0.9-4.1.0',
    workload: 'bufferutil',
    unreached: 'the binding functions are left old (0x1050 shares .data with 0x17830, changed and not carried; 0x1000 and 0x13d0 reference functions left old); no other carried function is entered by the calls, a worker thread attach/detach or the module init (test/real-live/README.md)',
  },
  {
    label: 'utf-8-validate-6.0.4-6.0.5',
    workload: 'utf8',
    ...(hasAvx512Kernel()
      ? {}
      : { unreached: 'the carried function the calls reach is is_utf8\'s AVX-512 kernel (0x24d0, zmm code), which the library picks only on a CPU with AVX-512 (F, BW, VL, VBMI2); on a CPU without them the AVX2 kernel runs and no carried function is entered (test/real-live/README.md)' }),
  },
  { label: 'ast-grep-0.51.2-0.51.3', workload: 'astgrep' },
  { label: 'swc-html-1.15.41-1.16.1', workload: 'swchtml' },
  { label: 'swc-html-1.15.24-1.15.33', workload: 'swchtml' },
  { label: 'couchbase-4.6.0-4.7.0', workload: 'couchbase' },
];
